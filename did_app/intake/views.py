"""Intake: add single / range / list, port-in requests, orders (lifecycle.md §1, §2, §4, §6)."""
import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from did_app.audit import Actor
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.form_fields import version_of
from did_app.htmx import redirect_to, render
from did_app.intake import portin, queries, service
from did_app.intake.forms import (
    TABS,
    AddForm,
    OrderFilterForm,
    PortInDetailsForm,
    PortInFilterForm,
    PortInForm,
    PortInNumbersForm,
    PortInStatusForm,
    RemoveNumbersForm,
    tab_of,
)
from did_app.models import AuditEvent, CapacityGroup, Identity, Order, SmsRoute, VoiceRoute
from did_app.models.lifecycle import PORT_STATUSES
from did_app.models.numbers import NUMBER_TYPES
from did_app.security import role_required

bp = Blueprint("intake", __name__)
LOCATION_FIELDS = {"country", "region", "city"}


def _choices(form) -> None:
    """Route, group and identity choices for a form with the common fields."""
    for field, model in ((form.voice_route_id, VoiceRoute), (form.sms_route_id, SmsRoute)):
        rows = db.session.execute(sa.select(model.id, model.name, model.kind).order_by(model.name)).all()
        field.choices = [("", "— none —")] + [(i, f"{n} (group)" if k == "group" else n) for i, n, k in rows]
    groups = db.session.execute(sa.select(CapacityGroup.id, CapacityGroup.name).order_by(CapacityGroup.name)).all()
    form.capacity_group_id.choices = [("", "— none —")] + [(i, n) for i, n in groups]
    if hasattr(form, "identity_id"):
        _identity_choices(form)


def _identity_choices(form) -> None:
    identities = db.session.scalars(sa.select(Identity).order_by(Identity.company_name, Identity.last_name)
                                    .limit(1000)).all()
    form.identity_id.choices = [("", "— none —")] + [(i.id, i.display_name) for i in identities]


# ---- add: step 1 input, step 2 preview, step 3 confirm ----------------------------------------

def _add_form(formdata: bool = True, **data) -> AddForm:
    ws = g.workspace
    extra = {} if formdata else {"formdata": None}
    form = AddForm(currency=ws.currency, time_zone=ws.time_zone, **extra, **data)
    _choices(form)
    return form


def _step1(form: AddForm, status: int = 200):
    return render("intake/add.html", "add_flow", form=form, tabs=TABS, type_labels=NUMBER_TYPES), status


def _step2(form: AddForm, preview, *, error: str | None = None, status: int = 200):
    if form.tab.data == "single" and not form.is_located and preview.rows:
        row = preview.rows[0]  # step 2 shows the detected location, editable
        form.located.data, form.country.data, form.region.data, form.city.data = "1", row.country, row.region, row.city
    return render("intake/add_preview.html", "add_flow", form=form, preview=preview, error=error,
                  type_labels=NUMBER_TYPES), status


def _preview_or_refuse(form: AddForm, *, error: str | None = None, status: int = 200, detect: bool = False):
    """Step 2 for the posted input, or step 1 with the refusal next to its field (422)."""
    inp = form.add_input()
    if detect:  # the edited location is refused: show the preview as detected, the error on the field
        inp.country = inp.region = inp.city = None
    try:
        preview = service.preview_add(inp, form.common(form.paid_until_at()))
    except DomainError as err:
        if err.field in LOCATION_FIELDS and form.is_located and not detect:
            form.attach(err)
            return _preview_or_refuse(form, status=422, detect=True)
        form.attach(err)
        return _step1(form, 422)
    return _step2(form, preview, error=error, status=status)


def _invalid(form: AddForm):
    """A form that failed its shape checks: on step 2 when only the location is wrong."""
    wrong = {name for name, errors in form.errors.items() if errors}
    if form.is_located and wrong <= LOCATION_FIELDS:
        return _preview_or_refuse(form, status=422, detect=True)
    return _step1(form, 422)


@bp.get("/numbers/add")
@role_required("operator")
def add():
    form = _add_form(formdata=False, tab=tab_of(request.args.get("tab")))
    return render("intake/add.html", "add_input", form=form, tabs=TABS, type_labels=NUMBER_TYPES)


@bp.post("/numbers/add/preview")
@role_required("operator")
def preview():
    form = _add_form()
    if not form.validate_on_submit():
        return _invalid(form)
    return _preview_or_refuse(form)


@bp.post("/numbers/add/revise")
@role_required("operator")
def revise():
    form = _add_form()
    return _step1(form)


@bp.post("/numbers/add/confirm")
@role_required("operator")
def confirm():
    form = _add_form()
    if not form.validate_on_submit():
        return _invalid(form)
    try:
        order, count = service.confirm_add(Actor.current(), form.add_input(), form.common(form.paid_until_at()),
                                           expected=form.expected_count())
    except DomainError as err:
        return _preview_or_refuse(form, error=err.message, status=422)
    flash(f"{count:,} number{'s' if count != 1 else ''} added ({order.reference}).", "success")
    return redirect_to(url_for("numbers.index", order=order.reference))


# ---- port-in requests -----------------------------------------------------------------------

@bp.get("/port-ins")
def port_ins():
    f = queries.ListFilter.from_args(request.args, statuses=PORT_STATUSES)
    rows, has_more = queries.port_ins_page(f)
    return render("intake/port_ins.html", "results", filters=f, form=PortInFilterForm(request.args),
                  rows=rows, has_more=has_more)


def _port_in_form(formdata: bool = True) -> PortInForm:
    extra = {} if formdata else {"formdata": None}
    form = PortInForm(currency=g.workspace.currency, **extra)
    _choices(form)
    return form


@bp.get("/port-ins/new")
@role_required("operator")
def new_port_in():
    return render_template("intake/port_in_new.html", form=_port_in_form(formdata=False))


@bp.post("/port-ins")
@role_required("operator")
def create_port_in():
    form = _port_in_form()
    if form.validate_on_submit():
        try:
            req = portin.create_port_in(Actor.current(), numbers_text=form.numbers.data, common=form.common(),
                                        details=form.details())
        except DomainError as err:
            form.attach(err)
        else:
            flash(f"Port-in request {req.reference} created.", "success")
            return redirect(url_for(".port_in", reference=req.reference), 303)
    return render_template("intake/port_in_new.html", form=form), 422


def _load_port_in(reference: str):
    req = queries.port_in_by_reference(reference)
    if req is None:
        abort(404)
    return req


def _port_in_page(req, *, forms: dict | None = None, status: int = 200):
    forms = forms or {}
    numbers, count, totals = queries.request_numbers(req.id)
    details = forms.get("details") or PortInDetailsForm(formdata=None, obj=req)
    if "details" not in forms:
        _identity_choices(details)
    order = db.session.scalar(sa.select(Order).where(Order.port_in_request_id == req.id).limit(1))
    history = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "port_in",
                                                             AuditEvent.object_id == req.id)
                                 .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(100)).all()
    return render_template(
        "intake/port_in.html", req=req, numbers=numbers, count=count, totals=totals, order=order,
        moves=portin.allowed_moves(req.status, current_user.role), editable=req.status in portin.EDITABLE,
        details_form=details, numbers_form=forms.get("numbers") or PortInNumbersForm(formdata=None),
        status_form=forms.get("status") or PortInStatusForm(formdata=None),
        remove_form=forms.get("remove") or RemoveNumbersForm(formdata=None), type_labels=NUMBER_TYPES,
        identity=db.session.get(Identity, req.identity_id) if req.identity_id else None, history=history,
        shown_limit=queries.NUMBERS_SHOWN), status


def _port_in_write(reference: str, form, call, message: str, key: str):
    """Run one port-in use case for a posted form: PRG on success, the page with the error otherwise."""
    req = _load_port_in(reference)
    if form.validate_on_submit():
        try:
            call(req, version_of(form))
        except portin.NotAllowed:
            abort(403)
        except Conflict as err:
            flash(err.message, "error")
            db.session.expire_all()
            return _port_in_page(req, status=409)
        except DomainError as err:
            form.attach(err)
        else:
            flash(message, "success")
            return redirect(url_for(".port_in", reference=reference), 303)
    db.session.expire_all()
    return _port_in_page(req, forms={key: form}, status=422)


@bp.get("/port-ins/<reference>")
def port_in(reference: str):
    return _port_in_page(_load_port_in(reference))


@bp.post("/port-ins/<reference>")
@role_required("operator")
def update_port_in(reference: str):
    form = PortInDetailsForm()
    _identity_choices(form)
    return _port_in_write(reference, form, lambda req, version: portin.update_port_in(
        Actor.current(), req.id, version=version, details=form.details()), "Request saved.", "details")


@bp.post("/port-ins/<reference>/numbers")
@role_required("operator")
def add_port_in_numbers(reference: str):
    form = PortInNumbersForm()
    return _port_in_write(reference, form, lambda req, version: portin.add_port_in_numbers(
        Actor.current(), req.id, version=version, numbers_text=form.numbers.data), "Numbers added.", "numbers")


@bp.post("/port-ins/<reference>/numbers/remove")
@role_required("operator")
def remove_port_in_numbers(reference: str):
    form = RemoveNumbersForm()
    return _port_in_write(reference, form, lambda req, version: portin.remove_port_in_numbers(
        Actor.current(), req.id, version=version, number_ids=form.number_id.data), "Numbers removed and released.",
        "remove")


@bp.post("/port-ins/<reference>/status")
@role_required("operator")
def change_port_in_status(reference: str):
    form = PortInStatusForm()
    target = form.target.data or ""
    return _port_in_write(reference, form, lambda req, version: portin.change_status(
        Actor.current(), req.id, target, role=current_user.role, version=version, comment=form.comment.data),
        f"Request moved to {PORT_STATUSES.get(target, target)}.", "status")


# ---- orders ---------------------------------------------------------------------------------

@bp.get("/orders")
def orders():
    f = queries.ListFilter.from_args(request.args, kinds=queries.ORDER_KINDS, statuses=queries.ORDER_STATUSES)
    rows, has_more = queries.orders_page(f)
    return render("intake/orders.html", "results", filters=f, form=OrderFilterForm(request.args), rows=rows,
                  has_more=has_more, charged=queries.charged([o.id for o, _, _ in rows]))


@bp.get("/orders/<reference>")
def order(reference: str):
    found = queries.order_by_reference(reference)
    if found is None:
        abort(404)
    order_, creator, req = found
    return render_template("intake/order.html", order=order_, creator=creator, req=req,
                           charged=queries.charged([order_.id]).get(order_.id, 0),
                           ledger_rows=queries.order_ledger(order_.id))
