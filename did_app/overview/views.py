"""The Overview page (/overview, every role): counts, readiness blockers, attention items, the
expiry timeline (issue 12 §6)."""
from flask import Blueprint, g

from did_app import clock
from did_app.htmx import render
from did_app.numbers import blockers
from did_app.overview import chart, queries

bp = Blueprint("overview", __name__)


@bp.get("/overview")
def index():
    ws = g.workspace
    figures = queries.overview(ws, clock.now())
    return render("overview/index.html", o=figures, blocker_labels=blockers.BLOCKERS,
                  live_statuses=queries.LIVE_STATUSES, week_view=queries.week_view,
                  chart=chart.timeline(figures.weeks, figures.balance, figures.cutoff_weeks, ws.currency))
