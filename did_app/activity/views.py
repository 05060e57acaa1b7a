"""The workspace-wide Activity page: every audit row, filterable, with CSV (access.md §6)."""
import json

from flask import Blueprint, Response, g, request, stream_with_context

from did_app import audit, clock, csv_out
from did_app.activity import queries
from did_app.htmx import render

bp = Blueprint("activity", __name__, url_prefix="/activity")
CSV_COLUMNS = ("at", "actor", "source", "action", "object_type", "object_id", "object", "before", "after",
               "batch_id", "note", "ip", "request_id")


@bp.get("")
def index():
    f = queries.ActivityFilter.from_args(request.args)
    rows, has_more = queries.page(queries.conditions(f, g.workspace.time_zone), f.page)
    return render("activity/index.html", "results", filters=f, rows=audit.for_display(rows), has_more=has_more,
                  facets=queries.facets())


def _json(values: dict | None) -> str:
    return json.dumps(audit.shown(values), default=str) if values else ""


def _csv_lines(conds):
    rows = ([e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor_label, e.source, e.action, e.object_type, e.object_id,
             e.object_label, _json(e.before), _json(e.after), e.batch_id, e.note, e.ip, e.request_id]
            for e in queries.stream(conds))
    return csv_out.stream(CSV_COLUMNS, rows)


@bp.get("/export.csv")
def export_csv():
    f = queries.ActivityFilter.from_args(request.args)
    conds = queries.conditions(f, g.workspace.time_zone)
    name = f"activity-{clock.now().strftime('%Y%m%d-%H%M%S')}.csv"
    return Response(stream_with_context(_csv_lines(conds)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
