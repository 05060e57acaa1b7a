"""My Numbers: the table, the search-list post, CSV export and the details page."""
import json

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, g, make_response, redirect, request, stream_with_context, url_for
from sqlalchemy.orm import selectinload

from did_app import clock
from did_app.db import db
from did_app.errors import DomainError
from did_app.htmx import render, wants_fragment
from did_app.models import AuditEvent, Number, VoiceRoute
from did_app.numbers import export, filter_options, queries, readiness, report, search, service
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
    target = url_for("numbers.index") + "?" + view.url_query(q="", list=token, page=1)
    if wants_fragment():
        resp = make_response("", 200)
        resp.headers["HX-Location"] = json.dumps({"path": target, "target": "#workspace", "swap": "outerHTML"})
        return resp
    return redirect(target, 303)


@bp.post("/numbers/demo")
@role_required("operator")
def load_demo():
    """The empty state's "Load demo data": the seed-demo command's work, only into an empty inventory."""
    from did_app import demo

    if db.session.scalar(sa.select(sa.exists().where(Number.id.is_not(None)))):
        flash("Demo data can only be loaded into an empty inventory.", "error")
        return redirect(url_for("numbers.index"), 303)
    demo.seed_demo(2000, 1)
    flash("Demo workspace loaded: 2,000 numbers.", "success")
    return redirect(url_for("numbers.index"), 303)


@bp.get("/numbers/export.csv")
def export_csv():
    view = queries.parse_view(request.args)
    ws, now = g.workspace, clock.now()
    plan, _ = _search_plan(view, ws)
    conds = queries.filter_conditions(view, ws, now) + queries.search_conditions(plan)
    filename = f"my-numbers-{now.strftime('%Y%m%d-%H%M%S')}.csv"
    body = stream_with_context(export.generate_csv(conds, view.sort, ws.currency))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _load_number(digits: str) -> Number:
    if not digits.isdigit() or len(digits) > 15:
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
    number = _load_number(digits)
    ws, now = g.workspace, clock.now()
    history = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "number", AuditEvent.object_label == number.number)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(50)).all()
    return render("numbers/detail.html", number=number, n=number, ws=ws, now=now,
                  checklist=readiness.readiness(number, ws, now),
                  voice_members=_route_members(number.voice_route),
                  sms_members=_route_members(number.sms_route),
                  ledger=queries.number_ledger(number.id), history=history,
                  totals=queries.number_totals(number.id), added_by=_added_by(number))


def _added_by(number: Number) -> str | None:
    from did_app.models import User
    user = db.session.get(User, number.created_by) if number.created_by else None
    return user.display_name if user else None
