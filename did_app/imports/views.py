"""CSV import on the web (lifecycle.md §3): upload, dry-run report, import, progress for large files."""
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, send_file, url_for

from did_app import money
from did_app.audit import Actor
from did_app.htmx import render, wants_fragment
from did_app.imports import parser, runner, store
from did_app.imports.forms import RunForm, UploadForm
from did_app.security import role_required

bp = Blueprint("imports", __name__)


@bp.get("/numbers/import")
@role_required("operator")
def index():
    return render_template("imports/index.html", form=UploadForm())


@bp.post("/numbers/import")
@role_required("operator")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return render_template("imports/index.html", form=form), 422
    data = form.file.data.read(parser.MAX_BYTES + 1)
    try:
        table = parser.read_table(data)
    except parser.FileError as err:
        form.attach(err)
        return render_template("imports/index.html", form=form), 422
    token = store.new_token()
    store.save_upload(token, data)
    return _run(token, table, (form.file.data.filename or "import.csv")[-200:], form)


@bp.post("/numbers/import/<token>/run")
@role_required("operator")
def rerun(token: str):
    state = _state(token)
    data = store.upload(token)
    if data is None:
        abort(404)
    if state["state"] == "running":
        return _show_page(token, state, status=409)
    return _run(token, parser.read_table(data), state["filename"], RunForm())


@bp.get("/numbers/import/<token>")
@role_required("operator")
def show(token: str):
    state = _state(token)
    summary = state.get("report") or {}
    if summary.get("orders") and wants_fragment():
        # the poll that finds the import done sends the browser on to the new numbers
        flash(imported_message(summary), "success")
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url_for("numbers.index", order=summary["orders"][0])
        return response
    return _show_page(token, state)


@bp.get("/numbers/import/<token>/report.csv")
@role_required("operator")
def report_csv(token: str):
    path = store.report_csv(token) if store.valid(token) else None
    if path is None:
        abort(404)
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name="import-report.csv",
                     max_age=0)


def _state(token: str) -> dict:
    state = store.state(token) if store.valid(token) else None
    if state is None:
        abort(404)
    return state


def _run(token: str, table, filename: str, form: RunForm):
    options = dict(filename=filename, dry_run=form.dry_run.data, skip_existing=form.skip_existing.data)
    if len(table.rows) > current_app.config.get("IMPORT_BACKGROUND_ROWS", runner.BACKGROUND_ROWS):
        runner.start(current_app._get_current_object(), token, Actor.current(), table, **options)
        return redirect(url_for(".show", token=token), 303)
    summary = runner.run(token, Actor.current(), table, **options)
    if summary["orders"]:
        flash(imported_message(summary), "success")
        return redirect(url_for("numbers.index", order=summary["orders"][0]), 303)
    return _show_page(token, store.state(token), status=422 if summary["refusal"] else 200)


def _show_page(token: str, state: dict, status: int = 200):
    form = RunForm(formdata=None, dry_run=True, skip_existing=state.get("skip_existing", False))
    block = "progress" if state["state"] == "running" else "report"
    return render("imports/show.html", block, token=token, state=state, report=state.get("report"),
                  form=form), status


def imported_message(summary: dict) -> str:
    """ "Imported 120 numbers as ORD-000004. Charged $180.00. 3 rows skipped." """
    orders = summary["orders"]
    where = f"as {orders[0]}" if len(orders) == 1 else f"in {len(orders)} orders ({', '.join(orders[:3])}{', …' if len(orders) > 3 else ''})"
    text = f"Imported {summary['add']:,} numbers {where}. Charged {money.format_money(summary['total_minor'], summary['currency'])}."
    if summary["skip"]:
        text += f" {summary['skip']:,} rows skipped."
    return text
