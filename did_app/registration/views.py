"""The registration area's pages. First: the requirements (registration.md §2), edited by admins
and read by everyone, through the one CRUD pattern (did_app/crud.py)."""
from flask import Blueprint, render_template, request, url_for

from did_app import crud
from did_app.htmx import render
from did_app.models import Requirement
from did_app.models.numbers import NUMBER_TYPES
from did_app.registration import queries, service
from did_app.registration.forms import PROOF_ENTITIES, NewRequirementForm, RequirementFilterForm, RequirementForm

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
