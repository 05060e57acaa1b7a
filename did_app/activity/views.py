"""The workspace-wide Activity page: every audit row, filterable, with CSV (access.md §6)."""
import csv
import io
import json

from flask import Blueprint, Response, g, request, stream_with_context

from did_app import clock
from did_app.activity import queries
from did_app.htmx import render
from did_app.numbers.export import safe_cell

bp = Blueprint("activity", __name__, url_prefix="/activity")
CSV_COLUMNS = ("at", "actor", "source", "action", "object_type", "object_id", "object", "before", "after",
               "batch_id", "note", "ip", "request_id")


@bp.get("")
def index():
    f = queries.ActivityFilter.from_args(request.args)
    rows, has_more = queries.page(queries.conditions(f, g.workspace.time_zone), f.page)
    return render("activity/index.html", "results", filters=f, rows=rows, has_more=has_more,
                  facets=queries.facets())


def _csv_lines(conds):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for i, e in enumerate(queries.stream(conds), 1):
        writer.writerow([e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), safe_cell(e.actor_label), e.source, e.action,
                         e.object_type, e.object_id or "", safe_cell(e.object_label),
                         safe_cell(json.dumps(e.before, default=str)) if e.before else "",
                         safe_cell(json.dumps(e.after, default=str)) if e.after else "",
                         e.batch_id or "", safe_cell(e.note), e.ip or "", e.request_id or ""])
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/export.csv")
def export_csv():
    f = queries.ActivityFilter.from_args(request.args)
    conds = queries.conditions(f, g.workspace.time_zone)
    name = f"activity-{clock.now().strftime('%Y%m%d-%H%M%S')}.csv"
    return Response(stream_with_context(_csv_lines(conds)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
