"""The registration area's pages, through the one CRUD pattern (did_app/crud.py): the requirements
(registration.md §2), edited by admins; identities and their addresses (§3), edited by admins and
operators; all read by everyone."""
from flask import Blueprint, render_template, request, url_for

from did_app import crud
from did_app.db import db
from did_app.htmx import render
from did_app.models import Address, Identity, Requirement
from did_app.models.numbers import NUMBER_TYPES
from did_app.registration import identities, proof_queries, queries, service
from did_app.registration.forms import (
    PROOF_ENTITIES,
    AddressForm,
    IdentityFilterForm,
    IdentityForm,
    NewIdentityForm,
    NewRequirementForm,
    RequirementFilterForm,
    RequirementForm,
)
from did_app.security import role_required

bp = Blueprint("registration", __name__, url_prefix="/registration")
# a new row starts as the seeded (*, *) row does (§2)
NEW_ROW = dict(number_type="*", registration_required=False, identity_type="any", address_area="country",
               personal_proofs=1, business_proofs=1, address_proofs=1)


def _labels() -> dict:
    """The names the pages show for stored codes."""
    return dict(type_labels={"*": "*", **NUMBER_TYPES}, identity_labels=service.IDENTITY_TYPES,
                area_labels=service.ADDRESS_AREAS,
                field_labels={**service.PERSONAL_FIELDS, **service.BUSINESS_FIELDS},
                proof_names=queries.proof_type_names(), lookup_order=LOOKUP_ORDER)


LOOKUP_ORDER = ("For a number, the first row that exists wins: "
                "(country, type) → (country, *) → (*, type) → (*, *).")


@bp.get("/requirements")
def requirements():
    filters = RequirementFilterForm(request.args)
    filters.validate()
    country = (filters.country.data or "").strip().upper() if not filters.country.errors else ""
    rows = queries.requirements(country, filters.type.data or None)
    return render("registration/requirements.html", "requirement_list", rows=rows, filters=filters, **_labels())


def _data(req: Requirement) -> dict:
    accepted = req.accepted_proof_types or {}
    return dict(
        registration_required=req.registration_required, identity_type=req.identity_type,
        address_area=req.address_area, personal_proofs=req.personal_proofs,
        business_proofs=req.business_proofs, address_proofs=req.address_proofs,
        **{f"{e}_proof_types": accepted.get(e, []) for e in PROOF_ENTITIES},
        personal_mandatory_fields=req.personal_mandatory_fields or [],
        business_mandatory_fields=req.business_mandatory_fields or [],
        service_description_required=req.service_description_required,
        restriction_message=req.restriction_message, version=req.version)


def _requirement_form(req=None, formdata=True) -> RequirementForm:
    """The requirement form bound to the request (formdata) or filled from `req`; without a
    requirement, the create form, which also asks for the country and type."""
    cls = RequirementForm if req is not None else NewRequirementForm
    if formdata:
        form = cls()
    else:
        form = cls(formdata=None, data=_data(req) if req is not None else NEW_ROW)
    form.identity_type.choices = list(service.IDENTITY_TYPES.items())
    form.address_area.choices = list(service.ADDRESS_AREAS.items())
    form.personal_mandatory_fields.choices = list(service.PERSONAL_FIELDS.items())
    form.business_mandatory_fields.choices = list(service.BUSINESS_FIELDS.items())
    accepted = (req.accepted_proof_types or {}) if req is not None else {}
    for entity in PROOF_ENTITIES:
        getattr(form, f"{entity}_proof_types").choices = queries.proof_type_choices(entity, accepted.get(entity))
    return form


def _requirement_page(req, form=None, *, refusal=None, status=200):
    return render_template("registration/requirement.html", req=req, name=service.label(req.country, req.number_type),
                           fallback=(req.country, req.number_type) == (service.ANY, service.ANY),
                           form=form or _requirement_form(req, formdata=False),
                           refusal=refusal and refusal.message, history=crud.history("requirement", req.id),
                           **_labels()), status


crud.ObjectViews(
    model=Requirement, name="requirement", path="/requirements", id_arg="requirement_id", role="admin",
    new_template="registration/requirement_new.html", list_endpoint=".requirements", form=_requirement_form,
    page=_requirement_page,
    create=lambda form: service.create_requirement(crud.actor(), **form.values()),
    update=lambda requirement_id, version, form: service.update_requirement(crud.actor(), requirement_id,
                                                                            version=version, **form.values()),
    remove=lambda requirement_id: service.delete_requirement(crud.actor(), requirement_id),
    created=lambda req: (f"Requirement {service.label(req.country, req.number_type)} created.",
                         url_for(".show_requirement", requirement_id=req.id)),
    saved="Requirement saved.",
    deleted=lambda req: f"Requirement {service.label(req.country, req.number_type)} deleted.",
).register(bp)


# ---- identities and addresses (§3) -----------------------------------------------------------

# the add-address form shares the identity page with the identity's form: its fields get their own ids
ADDRESS_PREFIX = "address"


@bp.get("/identities")
def identities_list():
    filters = IdentityFilterForm(request.args)
    rows, count = queries.identities(**filters.clean(), page=filters.page_number)
    return render("registration/identities.html", "identity_list", rows=rows, count=count, filters=filters,
                  per_page=queries.IDENTITIES_PER_PAGE, kinds=identities.IDENTITY_KINDS)


def _identity_data(identity: Identity) -> dict:
    return {**{k: getattr(identity, k) for k in identities.IDENTITY_FIELDS}, "version": identity.version}


def _identity_form(identity=None, formdata=True) -> IdentityForm:
    """The identity form bound to the request (formdata) or filled from `identity`; without an
    identity, the create form, which also asks for the type."""
    cls = IdentityForm if identity is not None else NewIdentityForm
    if formdata:
        return cls()
    return cls(formdata=None, data=_identity_data(identity) if identity is not None else {})


def _identity_page(identity, form=None, *, refusal=None, status=200, address_form=None, proof_state=None):
    address_list = queries.addresses_of(identity.id)
    return render_template(
        "registration/identity.html", identity=identity, kinds=identities.IDENTITY_KINDS,
        verified=queries.is_verified(identity.id), use=queries.identity_use(identity.id),
        in_review=identities.pending_reference(db.session, identity_id=identity.id),
        addresses=address_list, address_refs=queries.address_references([a.id for a in address_list]),
        form=form or _identity_form(identity, formdata=False), address_form=address_form or AddressForm(formdata=None, prefix=ADDRESS_PREFIX),
        refusal=refusal and refusal.message, numbers_url=refusal and crud.numbers_link(refusal),
        history=crud.history("identity", identity.id),
        **proof_queries.section("identity", identity.id, identity.identity_type, proof_state)), status


crud.ObjectViews(
    model=Identity, name="identity", path="/identities", id_arg="identity_id", role="operator",
    new_template="registration/identity_new.html", list_endpoint=".identities_list", form=_identity_form,
    page=_identity_page,
    create=lambda form: identities.create_identity(crud.actor(), **form.values()),
    update=lambda identity_id, version, form: identities.update_identity(crud.actor(), identity_id,
                                                                         version=version, **form.values()),
    remove=lambda identity_id: identities.delete_identity(crud.actor(), identity_id),
    created=lambda identity: (f"Identity {identity.display_name} created.",
                              url_for(".show_identity", identity_id=identity.id)),
    saved="Identity saved.",
    deleted=lambda identity: f"Identity {identity.display_name} deleted.",
).register(bp)


@bp.post("/identities/<int:identity_id>/addresses")
@role_required("operator")
def create_address(identity_id: int):
    identity = db.get_or_404(Identity, identity_id)
    form = AddressForm(prefix=ADDRESS_PREFIX)
    done, status = crud.save(form, lambda: identities.create_address(crud.actor(), identity_id, **form.values()),
                             lambda address: ("Address added.", url_for(".show_identity", identity_id=identity_id)))
    return done or _identity_page(identity, address_form=form, status=status)


def _address_page(address, form=None, *, refusal=None, status=200, proof_state=None):
    identity = db.session.get(Identity, address.identity_id)
    data = {**{k: getattr(address, k) for k in identities.ADDRESS_FIELDS}, "version": address.version}
    return render_template(
        "registration/address.html", address=address, identity=identity,
        in_review=identities.pending_reference(db.session, address_id=address.id),
        form=form or AddressForm(formdata=None, data=data), refusal=refusal and refusal.message,
        history=crud.history("address", address.id),
        **proof_queries.section("address", address.id, "address", proof_state)), status


@bp.get("/addresses/<int:address_id>")
def show_address(address_id: int):
    return _address_page(db.get_or_404(Address, address_id))


@bp.post("/addresses/<int:address_id>")
@role_required("operator")
def update_address(address_id: int):
    address = db.get_or_404(Address, address_id)
    form = AddressForm()
    done, status = crud.save(form, lambda: identities.update_address(
        crud.actor(), address_id, version=crud.version_of(form), **form.values()),
        lambda _: ("Address saved.", url_for(".show_address", address_id=address_id)))
    return done or _address_page(address, form, status=status)


@bp.post("/addresses/<int:address_id>/delete")
@role_required("operator")
def delete_address(address_id: int):
    address = db.get_or_404(Address, address_id)
    return crud.delete(lambda: identities.delete_address(crud.actor(), address_id), "Address deleted.",
                       url_for(".show_identity", identity_id=address.identity_id),
                       lambda err: _address_page(address, refusal=err, status=422),
                       url_for(".show_address", address_id=address_id))


# the area's other pages register their routes on `bp` when imported (after bp exists)
from did_app.registration.views import assign, proofs, review, services  # noqa: E402,F401
