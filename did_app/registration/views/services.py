"""Services needing approval (registration.md §6): CNAM OUT and emergency per number, the Service
requests page (admins approve, or reject with a reason, inline), remove."""
import sqlalchemy as sa
from flask import abort, flash, make_response, request, url_for
from sqlalchemy.orm import selectinload

from did_app import crud, parsing
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.htmx import redirect_to, render, wants_fragment
from did_app.models import Number, NumberService
from did_app.registration import number_services as approvals  # the view `number_services` takes the name
from did_app.registration import service_queries
from did_app.registration.number_services import KINDS
from did_app.registration.service_forms import STATUSES, RejectForm, ServiceFilterForm, ServiceForm
from did_app.registration.views import bp
from did_app.security import role_required

PAGE = "registration/number_services.html"
REQUESTS = "registration/service_requests.html"


@bp.app_template_global()
def service_parties(services) -> dict:
    """{service id: (identity name, address)} for the details page's Services section."""
    return service_queries.service_names(services)


def _number(digits: str) -> Number:
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 15:
        abort(404)
    number = db.session.scalar(sa.select(Number).where(Number.number == "+" + digits).options(
        selectinload(Number.services), selectinload(Number.identity)))
    if number is None:
        abort(404)
    return number


def _stored_form(number: Number, kind: str, identity_id: int | None = None) -> ServiceForm:
    """A kind's form filled from its row, or with the registration identity for a new request;
    `identity_id` (the emergency identity picker's choice) replaces the identity."""
    service = next((s for s in number.services if s.kind == kind), None)
    data = dict(value=service.value, identity_id=service.identity_id, address_id=service.address_id) \
        if service else dict(identity_id=number.identity_id)
    if identity_id is not None:
        data.update(identity_id=identity_id, address_id=None)
    return ServiceForm(formdata=None, prefix=kind, data={**data, "version": number.version})


def _forms(number: Number, posted: ServiceForm | None = None, posted_kind: str | None = None, picked=None) -> dict:
    """One form per kind the number supports, with the pickers' choices: identities by the identity
    rule, addresses of the form's identity."""
    identities = service_queries.identity_choices(number)
    forms = {}
    for kind in KINDS:
        if not number.has_feature(kind):
            continue
        form = posted if kind == posted_kind else _stored_form(number, kind, picked if kind == "emergency" else None)
        if form.identity_id.data is None and len(identities) == 1:
            form.identity_id.data = identities[0][0]
        form.identity_id.choices = [("", "Choose an identity"), *identities]
        form.address_id.choices = [("", "Choose an address"),
                                   *service_queries.address_choices(form.identity_id.data)]
        if kind == "emergency":  # the address picker follows the identity picked
            form.identity_id.render_kw = {"hx-get": url_for(".number_services", digits=number.digits),
                                          "hx-trigger": "change", "hx-target": "#emergency-address",
                                          "hx-swap": "outerHTML"}
        forms[kind] = form
    return forms


def _page(number: Number, *, posted=None, posted_kind=None, picked=None, refusal=None, status=200):
    registered = number.identity.display_name if number.identity is not None else None
    return render(PAGE, "emergency_address", n=number, forms=_forms(number, posted, posted_kind, picked),
                  services={s.kind: s for s in number.services}, kinds=KINDS, registered=registered,
                  refusal=refusal, statuses=STATUSES), status


@bp.get("/numbers/<digits>/services")
def number_services(digits: str):
    picked = parsing.query_id(request.args.get("emergency-identity_id"))
    return _page(_number(digits), picked=picked)


def _requested(number: Number, kind: str, service: NumberService) -> tuple[str, str]:
    if service.status == "active":
        message = f"Nothing changed: {KINDS[kind]} is active with these details."
    else:
        message = f"{KINDS[kind]} requested for {number.number}. It waits for an admin's approval."
    return message, url_for("numbers.show", digits=number.digits, _anchor="services")


@bp.post("/numbers/<digits>/services")
@role_required("operator")
def request_number_service(digits: str):
    number = _number(digits)
    kind = request.form.get("kind", "")
    form = ServiceForm(prefix=kind if kind in KINDS else "service")
    done, status = crud.save(form, lambda: approvals.request_service(
        crud.actor(), number.id, kind, version=crud.version_of(form), **form.values()),
        lambda service: _requested(number, kind, service))
    if done:
        return done
    if status == 409:
        form.version.data = number.version  # the message says what changed; a resubmit is then deliberate
    refusal = None if kind in KINDS and number.has_feature(kind) else " ".join(form.form_errors)
    return _page(number, posted=form, posted_kind=kind, refusal=refusal, status=status)


@bp.post("/services/<int:service_id>/remove")
@role_required("operator")
def remove_service(service_id: int):
    service = db.get_or_404(NumberService, service_id)
    number, label = db.session.get(Number, service.number_id), KINDS[service.kind]
    try:
        approvals.remove_service(crud.actor(), service_id,
                                       version=parsing.form_version(request.form.get("version")))
    except DomainError as err:
        return _page(_number(number.digits), refusal=err.message, status=409 if isinstance(err, Conflict) else 422)
    flash(f"{label} removed from {number.number}.", "success")
    return redirect_to(url_for("numbers.show", digits=number.digits, _anchor="services"))


# ---- the admin's Service requests page ---------------------------------------------------------

@bp.get("/services")
@role_required("admin")
def service_requests():
    filters = ServiceFilterForm(request.args)
    rows, count = service_queries.service_requests(**filters.clean(), page=filters.page_number)
    return render(REQUESTS, "service_list", rows=rows, count=count, filters=filters, kinds=KINDS,
                  statuses=STATUSES, per_page=service_queries.PER_PAGE, errors={}, reject_forms={})


def _decided(service_id: int, decide, message: str, form=None):
    """Run one decision; answer htmx with the request's row (the refusal in it, 422) and the flash,
    a classic post with the page (PRG), or the page with the refusal (422)."""
    db.get_or_404(NumberService, service_id)
    errors, status = {}, 200
    try:
        decide()
    except DomainError as err:
        errors, status = {service_id: {err.field or "_": err.message}}, 422
    if status == 200:
        flash(message, "success")
        if not wants_fragment():
            return redirect_to(url_for(".service_requests"))
    row = service_queries.service_row(service_id)
    if not wants_fragment():
        rows = [row] if row else []
        return render(REQUESTS, rows=rows, count=len(rows), filters=ServiceFilterForm(formdata=None),
                      kinds=KINDS, statuses=STATUSES, per_page=service_queries.PER_PAGE, errors=errors,
                      reject_forms={service_id: form} if form else {}), status
    html = render(REQUESTS, "service_row", flash_oob=True, row=row, kinds=KINDS, statuses=STATUSES,
                  errors=errors, reject_forms={service_id: form} if form else {})
    return make_response(html, status)


@bp.post("/services/<int:service_id>/approve")
@role_required("admin")
def approve_service(service_id: int):
    return _decided(service_id, lambda: approvals.approve_service(crud.actor(), service_id),
                    "Service request approved.")


@bp.post("/services/<int:service_id>/reject")
@role_required("admin")
def reject_service(service_id: int):
    form = RejectForm()
    return _decided(service_id, lambda: approvals.reject_service(crud.actor(), service_id, form.reason.data),
                    "Service request rejected.", form)
