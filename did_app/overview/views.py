"""The Overview page (/overview, every role): counts, readiness blockers, attention items, the
expiry timeline (issue 12 §6)."""
from flask import Blueprint, g, url_for

from did_app import clock
from did_app.htmx import render
from did_app.numbers import blockers
from did_app.overview import chart, queries

bp = Blueprint("overview", __name__)


def week_links(weeks) -> list[tuple[str, str]]:
    """Each week's /numbers links: its live numbers (a bar), and those that won't renew (a segment).
    One url_for for all: the query strings are the views' own."""
    numbers = url_for("numbers.index")
    return [(f"{numbers}?{queries.week_view(w.start, w.end, queries.LIVE_STATUSES).url_query()}",
             f"{numbers}?{queries.week_view(w.start, w.end, ['expiring_soon']).url_query()}") for w in weeks]


@bp.get("/overview")
def index():
    ws = g.workspace
    figures = queries.overview(ws, clock.now())
    return render("overview/index.html", o=figures, blocker_labels=blockers.BLOCKERS,
                  chart=chart.timeline(figures.weeks, week_links(figures.weeks), figures.balance,
                                       figures.cutoff_weeks, ws.currency))
