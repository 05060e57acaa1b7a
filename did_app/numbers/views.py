"""My Numbers: the table, the search-list post, CSV export and the details page."""
import json
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from did_app import clock, filters, money, parsing
from did_app.audit import Actor
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.errors import Conflict, DomainError, error_response
from did_app.form_fields import version_of
from did_app.htmx import redirect_to, render, wants_fragment
from did_app.lifecycle import service as lifecycle
from did_app.models import AuditEvent, Number, SmsRoute, User, VoiceRoute
from did_app.numbers import cells, edits, export, filter_options, forms, queries, readiness, report, search, service
from did_app.security import role_required

bp = Blueprint("numbers", __name__)


@bp.get("/")
def root():
    return redirect(url_for("numbers.index"))


def _workspace_context(view: queries.View) -> dict:
    ws, now = g.workspace, clock.now()
    notes = [f"Ignored unknown filter value: {item}" for item in view.ignored]
    plan, list_expired = _search_plan(view, ws)
    if plan.too_many:
        notes.append("Paste at most 10,000 numbers.")
    base_conds = queries.filter_conditions(view, ws, now)
    conds = base_conds + queries.search_conditions(plan)
    counts = queries.quick_filter_counts(ws, now)
    page = queries.fetch_page(conds, view, counts)
    return dict(view=view, counts=counts, page=page, notes=notes, list_expired=list_expired,
                search_report=report.build(plan, base_conds) if plan.kind == "numbers" else None,
                plan=plan, chips=filter_options.chips(view), now=now, ws=ws)


def _search_plan(view: queries.View, ws):
    if view.list:
        plan = service.load_saved_list(view.list)
        if plan is None:
            return search.SearchPlan(kind="numbers", numbers=[]), True
        return plan, False
    return search.interpret(view.q, ws.default_country), False


@bp.get("/numbers")
def index():
    view = queries.parse_view(request.args)
    return render("numbers/index.html", "workspace", **_workspace_context(view))


@bp.get("/numbers/filters")
def filter_panel():
    """The filter panel's fields, loaded when the panel is first opened."""
    view = queries.parse_view(request.args)
    if not wants_fragment():
        return redirect(url_for("numbers.index", **request.args.to_dict(flat=False)), 303)
    return render("numbers/index.html", "filter_panel", view=view,
                  options=filter_options.panel_options(view))


# ---------------------------------------------------------------- inline edits (numbers.md §7.2)

def _cell_or_404(field: str) -> tuple:
    if field not in cells.CELLS:
        abort(404)
    return cells.CELLS[field]


def _editor(number: Number, field: str, *, error=None, value=None, renewal_mode=None, status=200):
    choices = None
    if field in ("voice_route", "sms_route"):
        choices = edits.route_choices(VoiceRoute if field == "voice_route" else SmsRoute)
    html = render_template("numbers/cell_editor.html", number=number, field=field, cells=cells.CELLS,
                           cell_id=cells.cell_id(number.id, field), choices=choices, error=error,
                           value=value, renewal_mode=renewal_mode)
    response = make_response(html, status)
    if status == 422:  # the form targets its row; an invalid value swaps only the cell
        response.headers["HX-Retarget"] = "#" + cells.cell_id(number.id, field)
        response.headers["HX-Reswap"] = "outerHTML"
    return response


def _number_by_id(number_id: int) -> Number:
    rows = queries.load_rows([number_id])
    if not rows:
        abort(404)
    return rows[0]


@bp.get("/numbers/<int:number_id>/cells/<field>/edit")
@role_required("operator")
def edit_cell(number_id: int, field: str):
    _cell_or_404(field)
    if not wants_fragment():
        return redirect(url_for("numbers.index"), 303)
    return _editor(_number_by_id(number_id), field)


@bp.get("/numbers/<int:number_id>/cells/<field>")
def show_cell(number_id: int, field: str):
    """The read-only cell again (Cancel)."""
    _cell_or_404(field)
    if not wants_fragment():
        return redirect(url_for("numbers.index"), 303)
    return _row_response(_number_by_id(number_id), blocks=("row",))


def _view_of_current_page() -> queries.View:
    """The table's view (filters, sort) from the page the edit came from, for the counts' links."""
    query = urlsplit(request.headers.get("HX-Current-URL", "")).query
    return queries.parse_view(MultiDict([(k, v) for k, vs in parse_qs(query).items() for v in vs]))


def _row_response(number: Number, *, blocks=("row", "counts"), conflict=None, status=200):
    if not wants_fragment():  # a row lives only inside the table page: a classic post gets a page
        if status == 200:
            return redirect(url_for("numbers.index"), 303)
        return error_response(status, conflict["message"] if conflict else None)
    ws, now = g.workspace, clock.now()
    context = dict(number=number, ws=ws, now=now, conflict=conflict, oob=True)
    if "counts" in blocks:
        context.update(view=_view_of_current_page(), counts=queries.quick_filter_counts(ws, now))
    return render("numbers/index.html", *blocks, flash_oob=True, **context), status


def _posted_version() -> int:
    """The posted `version` of the edited number; DomainError (no field) when missing or invalid,
    since an edit without one would overwrite a newer change unseen."""
    version = parsing.form_version(request.form.get("version"))
    if version is None:
        raise DomainError(parsing.VERSION_MESSAGE)
    return version


@bp.post("/numbers/<int:number_id>/cells/<field>")
@role_required("operator")
def save_cell(number_id: int, field: str):
    _cell_or_404(field)
    try:
        form = forms.cell_form(field)
        version = version_of(form)
        changes = form.changes(request.form)
        edits.update_number(Actor.current(), number_id, version, **changes)
    except Conflict as err:
        flash(err.message, "error")
        return _row_response(_number_by_id(number_id), conflict={"field": field, "message": err.message},
                             status=409)
    except DomainError as err:
        value = request.form.get("count") if field == "renewal" else request.form.get("value")
        return _editor(_number_by_id(number_id), field, error=err.message, value=value,
                       renewal_mode=request.form.get("mode"), status=422)
    flash("Saved.", "success")
    return _row_response(_number_by_id(number_id))


@bp.post("/numbers/lists")
def save_list():
    """A paste too long for a URL: store it, then show it at ?list=<token> (a GET from there on)."""
    view = queries.parse_view(request.form)
    try:
        token = service.save_search_list(request.form.get("q", ""), g.workspace.default_country)
    except DomainError as err:
        view.q = ""
        context = _workspace_context(view)
        context["notes"].append(err.message)
        return render("numbers/index.html", "workspace", **context), 422
    query: dict[str, list[str]] = {}
    for key, value in view.pairs(q="", list=token, page=1):
        query.setdefault(key, []).append(value)
    target = url_for("numbers.index", **query)
    if wants_fragment():
        resp = make_response("", 200)
        resp.headers["HX-Location"] = json.dumps({"path": target, "target": "#workspace", "swap": "outerHTML"})
        return resp
    return redirect(target, 303)


@bp.post("/numbers/demo")
@role_required("operator")
def load_demo():
    """The empty state's "Load demo data": the seed-demo command's work, only into an empty inventory
    (checked inside the seeding transaction). A refusal goes back to the table with its message."""
    # imported on use: demo's data and word lists stay out of the web workers' memory until asked for
    from did_app import demo

    try:
        demo.seed_demo(2000, 1)
    except demo.NotEmpty:
        flash("Demo data can only be loaded into an empty inventory.", "error")
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash("Demo workspace loaded: 2,000 numbers.", "success")
    return redirect(url_for("numbers.index"), 303)


@bp.get("/numbers/export.csv")
def export_csv():
    view = queries.parse_view(request.args)
    ws, now = g.workspace, clock.now()
    plan, _ = _search_plan(view, ws)
    conds = queries.filter_conditions(view, ws, now) + queries.search_conditions(plan)
    if "ids" in request.args:  # an explicit selection (batch.md §1), within any filter also given
        try:
            conds.append(export.ids_condition(export.parse_ids(request.args["ids"])))
        except DomainError as err:
            return error_response(422, err.message)
    filename = f"my-numbers-{now.strftime('%Y%m%d-%H%M%S')}.csv"
    body = stream_with_context(export.generate_csv(conds, view.sort, ws.currency))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})  # no-store: security.add_cache_headers


def _load_number(digits: str) -> Number:
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 15:
        abort(404)
    number = db.session.scalar(sa.select(Number).where(Number.number == "+" + digits).options(
        selectinload(Number.voice_route), selectinload(Number.sms_route),
        selectinload(Number.capacity_group), selectinload(Number.capacity_pool),
        selectinload(Number.identity), selectinload(Number.verification_request),
        selectinload(Number.services), selectinload(Number.order), selectinload(Number.port_in_request)))
    if number is None:
        abort(404)
    return number


def _route_members(route):
    if route is None or route.kind != "group":
        return []
    model = type(route)
    order = ((model.priority, model.weight.desc(), model.name) if model is VoiceRoute
             else (model.priority, model.name))
    return db.session.scalars(sa.select(model).where(model.group_id == route.id).order_by(*order)).all()


@bp.get("/numbers/<digits>")
def show(digits: str):
    return _detail_response(_load_number(digits))


DETAIL_BLOCKS = ("header", "general", "readiness", "trunks", "capacity", "order", "billing", "history", "balance")


def _lifecycle_actions(number: Number, ws, now, error=None, open_action=None) -> dict:
    """What the details page offers for this number's lifecycle, with quotes (lifecycle.md §5, §7)."""
    state = lifecycle.lifecycle_state(number)
    renew_refusal = lifecycle.renew_refusal(number)
    return dict(
        renew=[] if renew_refusal else [lifecycle.renew_quote(number, m, ws, now) for m in lifecycle.RENEW_MONTHS],
        renew_refusal=renew_refusal if state != "CANCELLED" else None,
        restore=lifecycle.restore_quote(number, ws, now) if state == "CANCELLED" else None,
        cancel=lifecycle.release_date_if_cancelled(ws, now) if lifecycle.cancel_refusal(number) is None else None,
        remove=lifecycle.refund_quote(number.id) if lifecycle.remove_refusal(number) is None else None,
        error=error, open=open_action)


def _detail_context(number: Number, errors=None, values=None, error=None, open_action=None) -> dict:
    ws, now = g.workspace, clock.now()
    history = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "number", AuditEvent.object_label == number.number)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(50)).all()
    checklist, fix_options = readiness.readiness(number, ws, now), edits.capacity_options(number)
    return dict(number=number, n=number, ws=ws, now=now, errors=errors or {}, values=values or {},
                checklist=checklist, fix_selects=readiness.fix_selects(number, checklist, fix_options["free_pools"]),
                voice_members=_route_members(number.voice_route), sms_members=_route_members(number.sms_route),
                ledger=queries.number_ledger(number.id), history=history,
                totals=queries.number_totals(number.id), added_by=_added_by(number),
                voice_choices=edits.route_choices(VoiceRoute), sms_choices=edits.route_choices(SmsRoute),
                fix_options=fix_options,
                next_price_text=money.plain(number.next_monthly_price_minor or number.monthly_price_minor,
                                            ws.currency),
                actions=_lifecycle_actions(number, ws, now, error, open_action))


def _detail_response(number: Number, *, errors=None, values=None, status=200, error=None, open_action=None):
    context = _detail_context(number, errors, values, error, open_action)
    if wants_fragment() and request.method == "POST":
        return render("numbers/detail.html", *DETAIL_BLOCKS, flash_oob=True, oob=True, **context), status
    return render("numbers/detail.html", **context), status


def _added_by(number: Number) -> str | None:
    user = db.session.get(User, number.created_by) if number.created_by else None
    return user.display_name if user else None


@bp.post("/numbers/<digits>/apply-profile")
@role_required("operator")
def apply_profile(digits: str):
    """The readiness fix "Apply profile…": the single-number apply of configuration.md §8."""

    number = _load_number(digits)
    try:
        version, profile_id = _posted_version(), parsing.query_id(request.form.get("profile_id"))
        if profile_id is None:
            raise DomainError("Choose a profile.", "profile_id")
        result = profiles_service.apply_profile(Actor.current(), number.id, profile_id, version=version)
    except Conflict as err:
        flash(err.message, "error")
        return _detail_response(_load_number(digits), status=409)
    except DomainError as err:
        if err.field is None:  # no field to show it next to (a missing version): the flash shows it
            flash(err.message, "error")
        return _detail_response(number, errors={err.field or "profile_id": err.message, "_section": "fix"},
                                status=422)
    flash("Profile applied." if result["changed"] else "Nothing changed: " + "; ".join(result["skipped"]),
          "success")
    if not wants_fragment():
        return redirect(url_for("numbers.show", digits=digits) + "#readiness", 303)
    return _detail_response(_load_number(digits))


def _lifecycle_post(digits: str, action: str, run):
    """One lifecycle action after its in-place confirmation: `run(actor, number, version)` does it and
    returns the success message, or a response (remove leaves no page to show)."""
    number = _load_number(digits)
    try:
        version = _posted_version()
        outcome = run(Actor.current(), number, version)
    except Conflict as err:
        flash(err.message, "error")
        return _detail_response(_load_number(digits), status=409)
    except DomainError as err:
        if db.session.scalar(sa.select(Number.id).where(Number.number == "+" + digits)) is None:
            flash(err.message, "error")  # released meanwhile (a job ran): nothing left to show
            return redirect_to(url_for("numbers.index"), htmx_status=204)
        return _detail_response(_load_number(digits), error=err.message, open_action=action, status=422)
    if not isinstance(outcome, str):
        return outcome
    flash(outcome, "success")
    if not wants_fragment():
        return redirect(url_for("numbers.show", digits=digits) + "#billing", 303)
    return _detail_response(_load_number(digits))


@bp.post("/numbers/<digits>/lifecycle/renew")
@role_required("operator")
def renew(digits: str):
    """Renew one number for the chosen months, charged from the balance (lifecycle.md §5)."""
    def run(actor, number, version):
        months = parsing.query_int(request.form.get("months"), 1, max(lifecycle.RENEW_MONTHS)) or 0
        quote = lifecycle.renew(actor, number.id, months, version=version)
        return f"Renewed until {filters.fmt_date(quote.new_expires_at)}."
    return _lifecycle_post(digits, "renew", run)


@bp.post("/numbers/<digits>/lifecycle/cancel")
@role_required("operator")
def cancel(digits: str):
    def run(actor, number, version):
        lifecycle.cancel(actor, number.id, version=version)
        return "Cancelled. Traffic is blocked; you can restore the number within the restore window."
    return _lifecycle_post(digits, "cancel", run)


@bp.post("/numbers/<digits>/lifecycle/restore")
@role_required("operator")
def restore(digits: str):
    def run(actor, number, version):
        quote = lifecycle.restore(actor, number.id, version=version)
        return "Restored." + (f" Charged {filters.fmt_money(quote.cost_minor)}." if quote.cost_minor else "")
    return _lifecycle_post(digits, "restore", run)


@bp.post("/numbers/<digits>/lifecycle/remove")
@role_required("operator")
def remove(digits: str):
    """Remove and refund one number: it leaves the inventory, so the table is shown next."""
    def run(actor, number, version):
        refund = lifecycle.remove_and_refund(actor, number.id, version=version)
        flash(f"{number.number} was removed and {filters.fmt_money(refund)} refunded.", "success")
        return redirect_to(url_for("numbers.index"), htmx_status=204)
    return _lifecycle_post(digits, "remove", run)


@bp.post("/numbers/<digits>/sections/<section>")
@role_required("operator")
def update_section(digits: str, section: str):
    """Save one details-page form or readiness fix; every section re-renders out of band."""
    if section not in forms.SECTION_FORMS:
        abort(404)
    number = _load_number(digits)
    try:
        form = forms.SECTION_FORMS[section]()
        version = version_of(form)
        changes = form.changes(request.form)
        _, changed = edits.update_number(Actor.current(), number.id, version, **changes)
    except Conflict as err:
        flash(err.message, "error")
        return _detail_response(_load_number(digits), status=409)
    except DomainError as err:
        if err.field is None:  # no field to show it next to (a missing version): the flash shows it
            flash(err.message, "error")
        field = "billing_cycles_count" if err.field == "renewal" else err.field
        return _detail_response(number, errors={field: err.message, "_section": section},
                                values=request.form.to_dict(), status=422)
    flash("Saved." if changed else "Nothing to change.", "success")
    if not wants_fragment():
        return redirect(url_for("numbers.show", digits=digits) + f"#{'readiness' if section == 'fix' else section}", 303)
    return _detail_response(_load_number(digits))
