"""The Overview page's figures (issue 12 §6): counts by status, readiness blockers, the attention
items A1–A3 (numbers.md §6) and the expiry timeline of the next 90 days, week by week.

Every figure is a count of index ranges over stored columns, so the page stays cheap at 100,000
numbers (B12). The timeline does not walk the renewal forecast (lifecycle/forecast.py, ~0.1 s at
that size): it counts the numbers whose current expiry falls in each week, and reads "at risk" and
the balance line from the cutoff the forecast stores on the workspace (`renewal_risk_cutoff_at`,
recomputed with every change that moves it): the balance lasts until the cutoff. Summing each
week's renewal cost instead would read every renewing number's price (~15 ms more at 100k). Each bar is
counted with the very conditions of the /numbers filters it links to, so a click shows what the
bar counted.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from did_app.db import db
from did_app.models import Number, NumberService
from did_app.numbers import blockers, queries
from did_app.rules import renewal

WEEKS = 13  # today and the next 90 days: 91 days
LIVE_STATUSES = ("active", "not_configured", "awaiting_registration")
NOT_LIVE_STATUSES = ("terminated", "porting")  # the other two of the five (numbers.md §4.2)


@dataclass
class Week:
    start: date
    end: date                 # the last day, inclusive (as the expires_to filter reads it)
    will_renew: int = 0
    at_risk: int = 0
    wont_renew: int = 0
    covered: bool = True      # the balance pays every renewal up to the week's end (the stored cutoff)

    @property
    def total(self) -> int:
        return self.will_renew + self.at_risk + self.wont_renew


@dataclass
class Overview:
    counts: dict                          # the quick-filter counts of /numbers
    blockers: dict                        # blocker key → numbers stopping there
    services: dict                        # "pending"/"rejected" → numbers with such a service (A1)
    wont_renew: int                       # A2
    at_risk: int                          # A3
    weeks: list[Week] = field(default_factory=list)
    balance: int = 0
    cutoff_at: datetime | None = None
    cutoff_weeks: float | None = None     # where the cutoff falls on the timeline, in weeks from today


def _midnight(day: date, zone) -> datetime:
    return datetime.combine(day, time.min, zone)


def week_starts(now: datetime, tz: str) -> list[date]:
    """The first local day of each week, the first week starting today (workspace time zone)."""
    today = now.astimezone(ZoneInfo(tz)).date()
    return [today + timedelta(days=7 * i) for i in range(WEEKS)]


def week_view(start: date, end: date, statuses) -> queries.View:
    """The /numbers view of a week's numbers in `statuses`: what a bar (segment) links to."""
    return queries.View(status=list(statuses), expires_from=start.isoformat(), expires_to=end.isoformat())


def _count(*where):
    return sa.select(sa.func.count()).select_from(Number).where(*where).scalar_subquery()


def _in(lower, upper):
    return Number.expires_at >= lower, Number.expires_at < upper


def _week_counts(lower, upper) -> list:
    """A week's three counts: every number expiring in it, those not live, those that won't renew.

    A bar links to the live statuses (active, not configured, awaiting registration) and the week,
    as numbers.queries.filter_conditions writes it; the live ones are counted as all less the
    terminated and porting ones (every number has one of the five statuses): one range of the
    expiry index (~40 ns a number) instead of three of the status index (~50 ns a number, ~1 ms at
    100k). The won't-renew segment's link is status=expiring_soon and the week."""
    return [_count(*_in(lower, upper)),
            _count(Number.status.in_(NOT_LIVE_STATUSES), *_in(lower, upper)),
            _count(Number.expiring_soon.is_(True), *_in(lower, upper))]


_STATEMENTS = {}


def _timeline_statement():
    """Built once with bind parameters: building 40 selects costs more than running them."""
    if "weeks" not in _STATEMENTS:
        columns = []
        for i in range(WEEKS + 1):  # the last one: the cutoff's week, up to the cutoff
            columns += _week_counts(sa.bindparam(f"lower{i}"), sa.bindparam(f"upper{i}"))
        _STATEMENTS["weeks"] = sa.select(*columns)
    return _STATEMENTS["weeks"]


def _live_and_wont(row, i: int) -> tuple[int, int]:
    total, not_live, wont = row[3 * i:3 * i + 3]
    return total - not_live, wont


def _timeline(ws, now: datetime) -> list[Week]:
    """Per week: the live numbers expiring in it (the bar), those that won't renew (billing cycles
    0, the Expiring-soon filter), those the balance won't reach (at or after the stored cutoff).
    One query of index-range counts, no forecast walk."""
    zone, cutoff = ZoneInfo(ws.time_zone), ws.renewal_risk_cutoff_at
    weeks = [Week(s, s + timedelta(days=6)) for s in week_starts(now, ws.time_zone)]
    edges = [_midnight(w.start, zone) for w in weeks] + [_midnight(weeks[-1].end + timedelta(days=1), zone)]
    params = {f"lower{i}": edges[i] for i in range(WEEKS)}
    params.update({f"upper{i}": edges[i + 1] for i in range(WEEKS)})
    # the cutoff's week is split there: the last triple counts its part before the cutoff (at most
    # a week of numbers; counting from the cutoff on would read every later week a second time)
    risky = next((i for i in range(WEEKS) if cutoff is not None and cutoff < edges[i + 1]), None)
    params.update({f"lower{WEEKS}": edges[risky] if risky is not None else edges[-1],
                   f"upper{WEEKS}": max(cutoff, edges[0]) if risky is not None else edges[-1]})
    row = db.session.execute(_timeline_statement(), params).one()
    for i, w in enumerate(weeks):
        live, w.wont_renew = _live_and_wont(row, i)
        if risky is not None and i >= risky:
            w.at_risk = live - w.wont_renew
        if i == risky:
            before_live, before_wont = _live_and_wont(row, WEEKS)
            w.at_risk -= before_live - before_wont
        w.will_renew = live - w.wont_renew - w.at_risk
        w.covered = risky is None or i < risky
    return weeks


def _service_counts_statement():
    if "services" not in _STATEMENTS:
        _STATEMENTS["services"] = sa.select(*(
            sa.select(sa.func.count(sa.distinct(NumberService.number_id))).where(NumberService.status == s)
            .scalar_subquery().label(s) for s in ("pending", "rejected")))
    return _STATEMENTS["services"]


def _service_counts() -> dict:
    """Numbers with a pending, and with a rejected, service (A1): the service status index."""
    return dict(db.session.execute(_service_counts_statement()).one()._mapping)


def _cutoff_weeks(ws, now: datetime) -> float | None:
    cutoff = ws.renewal_risk_cutoff_at
    if cutoff is None:
        return None
    start = _midnight(week_starts(now, ws.time_zone)[0], ZoneInfo(ws.time_zone))
    weeks = (cutoff - start).total_seconds() / (7 * 86400)
    return None if weeks >= WEEKS else max(0.0, weeks)


def overview(ws, now: datetime) -> Overview:
    counts = queries.quick_filter_counts(ws, now)
    at_risk = db.session.scalar(sa.select(sa.func.count()).select_from(Number)
                                .where(renewal.at_risk_expr(ws.renewal_risk_cutoff_at))) \
        if ws.renewal_risk_cutoff_at is not None else 0
    return Overview(counts=counts, blockers=blockers.counts(), services=_service_counts(),
                    wont_renew=counts["expiring_soon"], at_risk=at_risk, weeks=_timeline(ws, now),
                    balance=ws.balance_minor, cutoff_at=ws.renewal_risk_cutoff_at,
                    cutoff_weeks=_cutoff_weeks(ws, now))
