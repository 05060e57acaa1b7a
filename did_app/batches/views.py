"""Batch pages (batch.md §2–§4): the action's inputs (page or dialog fragment), the preview and
summary page B-000123, confirm, exclude errors, undo with its own preview, CSV, and the Batches
list. Admins and operators act; viewers see summaries (access.md)."""
import json
from urllib.parse import parse_qsl

from flask import Blueprint, Response, abort, flash, g, request, stream_with_context, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from did_app import clock, csv_out, parsing
from did_app.audit import Actor
from did_app.batches import engine, queries
from did_app.batches.actions import ACTIONS, UNDO, action_for
from did_app.db import db
from did_app.errors import DomainError
from did_app.htmx import redirect_to, render, wants_fragment
from did_app.models import Batch
from did_app.numbers import export as numbers_export
from did_app.numbers import queries as numbers_queries
from did_app.security import role_required

bp = Blueprint("batches", __name__, url_prefix="/batches")
CSV_COLUMNS = ("number", "outcome", "reason", "before", "after")
EXPORT = "export"  # the menu's Export: no inputs, no preview; viewers may use it (batch.md §1, §3)


def _batch_or_404(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id)
    if batch is None:
        abort(404)
    return batch


def _selection(ids: str | None, query: str | None) -> dict:
    """The posted selection: ids "1,2,3", else the table's query string (filter mode)."""
    if (ids or "").strip():
        return {"ids": engine.parse_ids(ids)}
    return {"filter": (query or "").strip()[:4000]}


def _input_form(action, data=None):
    form = action.form(data)
    action.prepare_form(form)
    return form


def _new_page(action, form, selected: int | None, status=200):
    return render("batches/new.html", "dialog", action=action, form=form, selected=selected,
                  fragment=wants_fragment()), status


def _selected_count(selection: dict) -> int:
    return engine.count_selection(selection)


def _choose_action(values, status: int):
    """No action, or an unknown one: the list of actions, keeping the selection."""
    error = "Choose an action from the list." if values.get("action") else None
    return render("batches/new.html", "dialog", action=None, actions=ACTIONS, error=error, fragment=wants_fragment(),
                  ids=values.get("ids", "")[:100_000], filter=values.get("filter", "")[:4000]), status


# POST too: a selection of thousands of ids picked one by one is longer than a request line may be
# (gunicorn refuses lines over 4 KB, ~500 ids), so the table sends big selections in a form body
@bp.route("/new", methods=["GET", "POST"])
def new():
    if request.values.get("action") == EXPORT:
        if request.method == "POST":  # a long selection: answered here, as a redirect would GET it
            return _export(request.form)
        return redirect_to(url_for("batches.export", ids=request.values.get("ids", "")[:100_000],
                                   filter=request.values.get("filter", "")[:4000]))
    return _new_inputs()


@role_required("operator")
def _new_inputs():
    values = request.values
    if values.get("action") not in ACTIONS:
        return _choose_action(values, 422 if values.get("action") else 200)
    action = ACTIONS[values["action"]]
    form = _input_form(action, None)
    form.action.data, form.ids.data, form.filter.data = action.code, values.get("ids", ""), values.get("filter", "")
    try:
        selected = _selected_count(_selection(form.ids.data, form.filter.data))
    except DomainError as err:
        form.form_errors.append(err.message)
        return _new_page(action, form, None, 422)
    return _new_page(action, form, selected)


# POST too (CSRF checked): the selection bar sends a long explicit selection as a form body, as it
# does for the batch dialog; short ones and filter mode stay GET links
@bp.route("/export.csv", methods=["GET", "POST"])
def export():
    return _export(request.values)


def _export(values):
    """Export: the selection (ids with an optional `sort`, or the table's filter with its sort) as
    the numbers CSV of numbers.md §7.8, streamed by numbers/export.py; an unreadable selection goes
    back to the table."""
    now = clock.now()
    try:
        selection = _selection(values.get("ids"), values.get("filter"))
        where = engine.selection_condition(selection, now)
    except DomainError as err:
        flash(err.message, "error")
        return redirect_to(url_for("numbers.index"))
    table_args = (MultiDict(parse_qsl(selection["filter"])) if "filter" in selection
                  else MultiDict({"sort": values.get("sort", "")[:100]}))
    sort = numbers_queries.parse_view(table_args).sort
    filename = f"my-numbers-{now.strftime('%Y%m%d-%H%M%S')}.csv"
    body = stream_with_context(numbers_export.generate_csv([where], sort, g.workspace.currency))
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("")
@role_required("operator")
def create_preview():
    if request.form.get("action") not in ACTIONS:
        return _choose_action(request.form, 422)
    action = ACTIONS[request.form["action"]]
    form = _input_form(action, request.form)
    try:
        params = action.params_from(form)
        batch = engine.preview(Actor.current(), action.code, _selection(form.ids.data, form.filter.data), params)
    except DomainError as err:
        form.attach(err)
        return _new_page(action, form, None, 422)
    return redirect_to(url_for("batches.show", batch_id=batch.id))


def _page_context(batch: Batch) -> dict:
    outcome = request.args.get("tab") if request.args.get("tab") in queries.OUTCOMES else None
    outcome = outcome or next((o for o in queries.OUTCOMES if _count(batch, o)), "change")
    page = parsing.QueryArgs(request.args).page()
    items, has_more = queries.items_page(batch.id, outcome, page)
    action = action_for(batch)
    return dict(batch=batch, action=action, tab=outcome, page=page, items=items, has_more=has_more,
                groups=queries.reason_groups(batch.id), q=queries, actor=queries.actor_name(batch.created_by),
                inputs=_inputs(batch), confirmation=_confirmation(batch),
                undo_refusal=_undo_refusal(batch), undone_by=queries.undo_of(batch),
                applied=engine.applied_count(batch.id) if batch.status == "applying" else 0)


def _count(batch: Batch, outcome: str) -> int:
    return {"change": batch.change_count, "skip": batch.skip_count, "error": batch.error_count}[outcome]


def _inputs(batch: Batch) -> str:
    if batch.action == UNDO:
        original = db.session.get(Batch, batch.params["undo_of"])
        return f"Undo of {original.reference}" if original else "Undo"
    return ACTIONS[batch.action].inputs(batch.params)


def _confirmation(batch: Batch) -> str | None:
    if batch.status != "previewed" or batch.action == UNDO:
        return None
    return ACTIONS[batch.action].confirmation_for(batch)


def _undo_refusal(batch: Batch) -> str | None:
    if batch.status not in ("applied", "failed"):
        return None
    return engine.undo_refusal(Actor.current(), batch, is_admin=current_user.role == "admin")


def _show(batch: Batch, status: int = 200, **extra):
    return render("batches/show.html", "outcomes", **_page_context(batch), **extra), status


@bp.before_app_request
def _recover_interrupted_applies():
    engine.recover_on_first_request()


@bp.get("/<int:batch_id>")
def show(batch_id: int):
    return _show(_batch_or_404(batch_id))


@bp.get("/<int:batch_id>/progress")
def progress(batch_id: int):
    """The progress bar of a background apply, polled once a second; the summary once it ends."""
    batch = _batch_or_404(batch_id)
    applied, _ = engine.progress(batch_id)
    if batch.status != "applying" or not wants_fragment():
        return redirect_to(url_for("batches.show", batch_id=batch_id))
    return render("batches/show.html", "progress", batch=batch, applied=applied)


def _act(batch_id: int, run, done: str):
    """Run one write on a batch: back to its page with `done`, or the page at 422 with the reason."""
    _batch_or_404(batch_id)
    try:
        run(Actor.current(), batch_id)
    except engine.BatchNotFound:
        abort(404)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return _show(_batch_or_404(batch_id), 422)
    batch = db.session.get(Batch, batch_id)
    if batch is not None and batch.status == "applying":  # a large batch applies in the background
        done = f"Applying {batch.change_count:,} numbers…"
    flash(done, "success")
    return redirect_to(url_for("batches.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/confirm")
@role_required("operator")
def confirm(batch_id: int):
    batch = _batch_or_404(batch_id)
    refusal = _typing_refusal(batch, request.form.get("typed_count", ""))
    if refusal:
        return _show(batch, 422, typing_error=refusal)
    return _act(batch_id, engine.confirm, "Batch applied.")


def _typing_refusal(batch: Batch, typed: str) -> str | None:
    """Destructive batches over 10 numbers: the typed count must be the number of changes."""
    if batch.status != "previewed" or batch.action == UNDO or not ACTIONS[batch.action].needs_typing(
            batch.change_count):
        return None
    if typed.strip().replace(",", "") == str(batch.change_count):
        return None
    return f"Type {batch.change_count:,} to confirm."


@bp.post("/<int:batch_id>/exclude-errors")
@role_required("operator")
def exclude_errors(batch_id: int):
    return _act(batch_id, engine.exclude_errors, "Numbers with errors are excluded.")


@bp.get("/<int:batch_id>/undo")
@role_required("operator")
def undo_preview(batch_id: int):
    batch = _batch_or_404(batch_id)
    items, has_more = queries.items_page(batch.id, "change", 1)
    return render("batches/undo.html", "undo", batch=batch, items=items, has_more=has_more, q=queries,
                  refusal=_undo_refusal(batch) or _not_applied(batch))


def _not_applied(batch: Batch) -> str | None:
    return None if batch.status in ("applied", "failed") else engine.undo_refusal(Actor.current(), batch)


@bp.post("/<int:batch_id>/undo")
@role_required("operator")
def undo(batch_id: int):
    batch = _batch_or_404(batch_id)
    try:
        undone = engine.undo(Actor.current(), batch_id, is_admin=current_user.role == "admin")
    except DomainError as err:
        db.session.rollback()
        items, has_more = queries.items_page(batch.id, "change", 1)
        return render("batches/undo.html", "undo", batch=_batch_or_404(batch_id), items=items, has_more=has_more,
                      q=queries, refusal=err.message), 422
    flash(f"{batch.reference} undone.", "success")
    return redirect_to(url_for("batches.show", batch_id=undone.id))


@bp.post("/<int:batch_id>/numbers")
def show_numbers(batch_id: int):
    """"Show these numbers": the changed numbers as a saved list in the table."""
    _batch_or_404(batch_id)
    token = engine.show_numbers(batch_id)
    if token is None:
        flash("No list for this batch: it changed no numbers, or more than 10,000.", "error")
        return redirect_to(url_for("batches.show", batch_id=batch_id))
    return redirect_to(url_for("numbers.index", list=token))


def _json(values: list) -> str:
    return json.dumps({c.field: v for c, v in values}, default=str) if values else ""


def _csv_rows(batch: Batch):
    for item in queries.stream_items(batch.id):
        moved = queries.changes(batch, item)
        yield (item.number, item.outcome, item.reason or "", _json([(c, c.before) for c in moved]),
               _json([(c, c.after) for c in moved]))


@bp.get("/<int:batch_id>/outcomes.csv")
def csv(batch_id: int):
    batch = _batch_or_404(batch_id)
    name = f"{batch.reference}-outcomes.csv"
    return Response(stream_with_context(csv_out.stream(CSV_COLUMNS, _csv_rows(batch))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("")
def index():
    args = parsing.QueryArgs(request.args)
    action = args.choice("action", (*ACTIONS, UNDO), "")
    status = args.choice("status", queries.STATUSES, "")
    rows, has_more = queries.recent(action, status, args.page())
    return render("batches/index.html", "results", rows=rows, has_more=has_more, action=action, status=status,
                  page=args.page(), actions=ACTIONS, statuses=queries.STATUSES, notes=args.notes())
