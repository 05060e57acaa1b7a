"""Assign end-user details (registration.md §5): one page for the table's Identity cell, the
readiness fix R1 and the batch action; the same page resubmits a rejected request.

The picks (identity, address, service description) live in the URL: a GET form that htmx sends
on every change, swapping only the #assignment region, so the page also works without JS and a
proof upload can come back to the same state. Submit is a separate POST form.
"""
from dataclasses import dataclass

import sqlalchemy as sa
from flask import request, url_for
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from did_app import crud, parsing
from did_app.db import db
from did_app.errors import DomainError
from did_app.form_fields import AttachMixin, CleanText, IdField, VersionField
from did_app.htmx import render
from did_app.models import Identity, VerificationRequest
from did_app.registration import assignments, identities, queries
from did_app.registration.checklist import country_name, passes
from did_app.registration.forms import AddressForm, NewIdentityForm
from did_app.registration.requirements import requirement_for
from did_app.registration.views import _labels, bp
from did_app.security import role_required

IDENTITY_PREFIX, ADDRESS_PREFIX = "identity", "address"
IDENTITY_CHOICES = 500  # the picker's newest identities; more would make the select useless
SHOWN_NUMBERS = 20
# a checklist item about proofs → the entity an inline upload goes to
UPLOAD_ENTITIES = {"proofs:personal": "identity", "proofs:business": "identity", "proofs:address": "address"}


class AssignForm(AttachMixin, CleanText, FlaskForm):
    """The picks of an assignment: read from the query on GET (no CSRF), from the form on submit."""
    identity_id = IdField("Identity", choices=[])
    address_id = IdField("Address", choices=[])
    service_description = TextAreaField("Service description")
    version = VersionField()


@dataclass
class Upload:
    """An inline proof upload under a failing proofs item."""
    entity: str
    entity_id: int
    types: list[tuple[int, str]]
    form_id: str


def _picks(formdata) -> AssignForm:
    form = AssignForm(formdata=formdata, meta={"csrf": False})
    form.validate()
    return form


def _allowed_kinds(req) -> tuple[str, ...]:
    return ("personal", "business") if req is None or req.identity_type == "any" else (req.identity_type,)


def _identity_choices(req, fixed: Identity | None) -> list[tuple[object, str]]:
    if fixed is not None:
        return [(fixed.id, fixed.display_name)]
    rows = db.session.scalars(sa.select(Identity).where(Identity.identity_type.in_(_allowed_kinds(req)))
                              .order_by(Identity.id.desc()).limit(IDENTITY_CHOICES)).all()
    names = sorted(((i.id, f"{i.display_name} ({i.identity_type})") for i in rows), key=lambda c: c[1].lower())
    return [("", "Choose an identity…"), *names]


def _uploads(req, items, identity, address) -> dict[str, Upload]:
    out = {}
    for item in items:
        entity = UPLOAD_ENTITIES.get(item.key)
        if entity is None:  # a passing item gets the upload too: a rejected proof is replaced here
            continue
        kind = item.key.split(":")[1]
        accepted = set((req.accepted_proof_types or {}).get(kind) or [])
        types = [(i, n) for i, n in queries.proof_type_choices(kind) if not accepted or i in accepted]
        owner = identity if entity == "identity" else address
        out[item.key] = Upload(entity, owner.id, types, f"proof-upload-{entity}")
    return out


@dataclass
class Selection:
    """What the page assigns to: the eligible numbers (and skips) or a request's awaiting numbers."""
    numbers: list[str]
    skipped: list
    refusal: str | None
    country: str | None
    number_type: str | None
    place: object
    request: VerificationRequest | None = None


def _selection(numbers: list[str]) -> Selection:
    elig = assignments.eligibility(numbers)
    refusal = elig.refusal or (None if elig.eligible else (
        assignments.NOTHING_ELIGIBLE if numbers else assignments.NO_NUMBERS))
    return Selection([c.number for c in elig.eligible], elig.skipped, refusal, elig.country, elig.number_type,
                     elig.place)


def _request_selection(vr: VerificationRequest) -> Selection:
    awaiting = assignments.awaiting_numbers(db.session, vr.id)
    return Selection([c.number for c in awaiting], [], assignments.resubmit_refusal(vr, awaiting), vr.country,
                     vr.number_type, assignments.place_of(vr.country, awaiting), vr)


def _self_url(sel: Selection, form: AssignForm, **extra) -> str:
    """This page with the picks in its query: where htmx, the no-JS form and an upload return to."""
    picks = {k: v for k, v in (("identity_id", form.identity_id.data), ("address_id", form.address_id.data),
                               ("service_description", form.service_description.data)) if v}
    picks = {k: v for k, v in {**picks, **extra}.items() if v}
    if sel.request is not None:
        picks.pop("identity_id", None)
        return url_for("registration.resubmit", request_id=sel.request.id, **picks)
    return url_for("registration.assign", number=sel.numbers + [s.number for s in sel.skipped], **picks)


def _context(sel: Selection, form: AssignForm, identity_form=None, address_form=None) -> dict:
    req = requirement_for(sel.country, sel.number_type) if sel.refusal is None else None
    fixed = db.session.get(Identity, sel.request.identity_id) if sel.request is not None else None
    identity = fixed or (db.session.get(Identity, form.identity_id.data) if form.identity_id.data else None)
    form.identity_id.choices = _identity_choices(req, fixed)
    addresses = queries.addresses_of(identity.id) if identity is not None else []
    form.address_id.choices = [("", "Choose an address…"), *((a.id, a.one_line) for a in addresses)]
    address = next((a for a in addresses if a.id == form.address_id.data), None)
    items = (assignments.current_checklist(db.session, req, identity, address, sel.place,
                                           form.service_description.data) if req is not None else [])
    identity_form = identity_form or NewIdentityForm(formdata=None, prefix=IDENTITY_PREFIX)
    identity_form.identity_type.choices = [(k, v) for k, v in identities.IDENTITY_KINDS.items()
                                           if k in _allowed_kinds(req)]
    return dict(sel=sel, req=req, form=form, identity=identity, address=address, items=items,
                passed=bool(items) and passes(items), uploads=_uploads(req, items, identity, address) if req else {},
                identity_form=identity_form,
                address_form=address_form or AddressForm(formdata=None, prefix=ADDRESS_PREFIX),
                self_url=_self_url(sel, form), country=country_name(sel.country or ""),
                shown_numbers=SHOWN_NUMBERS, **_labels())


def _page(sel: Selection, form: AssignForm, status: int = 200, **forms):
    return render("registration/assign.html", "assignment", **_context(sel, form, **forms)), status


def _done(result) -> tuple[str, str]:
    vr, numbers = result
    verb = "Resubmitted" if vr.submission_count > 1 else "Submitted"
    return f"{verb} for review as {vr.reference}.", url_for("numbers.show", digits=numbers[0].lstrip("+"))


@bp.route("/assign", methods=["GET", "POST"])
@role_required("operator")
def assign():
    if request.method == "GET":
        return _page(_selection(request.args.getlist("number")), _picks(request.args))
    numbers = request.form.getlist("number")
    form = AssignForm()
    done, status = crud.save(form, lambda: assignments.submit(
        crud.actor(), numbers, identity_id=form.identity_id.data, address_id=form.address_id.data,
        service_description=form.service_description.data), _done)
    return done or _page(_selection(numbers), form, status)


@bp.route("/requests/<int:request_id>/resubmit", methods=["GET", "POST"])
@role_required("operator")
def resubmit(request_id: int):
    vr = db.get_or_404(VerificationRequest, request_id)
    if request.method == "GET":
        form = _picks(request.args)
        form.address_id.data = form.address_id.data or vr.address_id
        form.service_description.data = form.service_description.data or vr.service_description
        return _page(_request_selection(vr), form)
    form = AssignForm()
    done, status = crud.save(form, lambda: assignments.resubmit(
        crud.actor(), request_id, address_id=form.address_id.data,
        service_description=form.service_description.data, version=crud.version_of(form)), _done)
    return done or _page(_request_selection(db.session.get(VerificationRequest, request_id)), form, status)


# ---- identity and address created inline ----------------------------------------------------

def _return_to(request_id) -> tuple[Selection, AssignForm]:
    """The assignment an inline create came from: the numbers (or request) and picks it posted."""
    form = _picks(request.form)
    vr = db.session.get(VerificationRequest, request_id) if request_id else None
    return (_request_selection(vr) if vr is not None else _selection(request.form.getlist("number"))), form


@bp.post("/assign/identities")
@role_required("operator")
def assign_new_identity():
    identity_form = NewIdentityForm(prefix=IDENTITY_PREFIX)
    sel, form = _return_to(None)
    done, status = crud.save(identity_form, lambda: identities.create_identity(crud.actor(), **identity_form.values()),
                             lambda identity: (f"Identity {identity.display_name} created.",
                                               _self_url(sel, form, identity_id=identity.id, address_id=None)))
    return done or _page(sel, form, status, identity_form=identity_form)


@bp.post("/assign/addresses")
@role_required("operator")
def assign_new_address():
    address_form = AddressForm(prefix=ADDRESS_PREFIX)
    sel, form = _return_to(parsing.query_id(request.form.get("request_id")))
    identity_id = sel.request.identity_id if sel.request is not None else form.identity_id.data
    done, status = crud.save(address_form, lambda: identities.create_address(
        crud.actor(), identity_id, **address_form.values()) if identity_id else _no_identity(),
        lambda address: ("Address added.", _self_url(sel, form, address_id=address.id)))
    return done or _page(sel, form, status, address_form=address_form)


def _no_identity():
    raise DomainError("Choose an identity first.")
