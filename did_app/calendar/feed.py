"""The expiry calendar feed (lifecycle.md §13): all-day events for the next 365 days, one per
(local date, kind), as RFC 5545 text built with `icalendar`.

Each kind is one query over the numbers it concerns, returning (instant, number[, price]) rows in
order; the rows are grouped by their local date in Python (grouping by a local date in SQL needs
dialect time-zone functions). Renewals are each number's next one (`expires_at`): later months
are a forecast that changes with every renewal, and the Forecast page shows them.
"""
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, request, url_for

from did_app import clock, money
from did_app.lifecycle import forecast
from did_app.models import Number, VerificationRequest, Workspace
from did_app.rules import renewal

DAYS = 365
LISTED = 50  # numbers named in one event's description
BALANCE_HORIZON = 90  # days: the low-balance reminder's horizon (§12)
UTC = timezone.utc


@dataclass
class Day:
    """The numbers of one kind on one local date."""
    count: int = 0
    total_minor: int = 0
    numbers: list = field(default_factory=list)

    def add(self, number: str, amount: int) -> None:
        self.count += 1
        self.total_minor += amount or 0
        if len(self.numbers) < LISTED:
            self.numbers.append(number)


def _plural(k: int, one: str, many: str) -> str:
    return f"{k:,} {one if k == 1 else many}"


@dataclass(frozen=True)
class Kind:
    name: str
    title: object        # (count, amount text) → summary
    shift: str | None    # the workspace setting added to the instant (days), or None

    def summary(self, day: Day, currency: str) -> str:
        return self.title(day.count, money.format_money(day.total_minor, currency))


KINDS = {
    "expiring_no_renewal": Kind("expiring_no_renewal",
                                lambda k, _: f"{_plural(k, 'number expires', 'numbers expire')} (won't renew)", None),
    "renewal": Kind("renewal", lambda k, amount: f"{_plural(k, 'number renews', 'numbers renew')} — {amount}", None),
    "aging_removal": Kind("aging_removal",
                          lambda k, _: f"{_plural(k, 'number leaves', 'numbers leave')} the aging pool",
                          "aging_pool_days"),
    "restore_window_end": Kind("restore_window_end",
                               lambda k, _: f"Restore window ends for {_plural(k, 'number', 'numbers')}",
                               "restore_window_days"),
    "registration_deadline": Kind("registration_deadline",
                                  lambda k, _: f"Registration deadline for {_plural(k, 'number', 'numbers')}", None),
}


def _zone(ws) -> ZoneInfo:
    return ZoneInfo(ws.time_zone)


def _midnight(day: date, zone) -> datetime:
    return datetime.combine(day, time.min, zone).astimezone(UTC)


def _rows(kind: str):
    """(instant column, conditions, amount) of one kind."""
    if kind == "expiring_no_renewal":
        return Number.expires_at, [Number.billing_cycles_count == 0, Number.expired_at.is_(None),
                                   Number.cancelled_at.is_(None), Number.porting.is_(False)], sa.literal(0)
    if kind == "renewal":
        return Number.expires_at, list(renewal.renews_expr()), renewal.renewal_price_expr()
    if kind == "aging_removal":
        return Number.expired_at, [Number.expired_at.is_not(None)], sa.literal(0)
    if kind == "restore_window_end":
        return Number.cancelled_at, [Number.cancelled_at.is_not(None)], sa.literal(0)
    live_request = sa.exists().where(VerificationRequest.id == Number.verification_request_id,
                                     VerificationRequest.status.in_(("pending", "approved")))
    return Number.registration_deadline_at, [Number.awaiting_registration.is_(True), Number.porting.is_(False),
                                             ~live_request], sa.literal(0)


def _raw(column, dialect: str):
    """The column as the driver returns it: on SQLite its stored text (naive UTC, one fixed format),
    which compares like the instant, so 100k rows skip UTCDateTime's per-row parsing."""
    return sa.type_coerce(column, sa.String) if dialect == "sqlite" else column


def _as_raw(at: datetime, dialect: str):
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else at


def collect(session, ws, now: datetime) -> dict[tuple[str, date], Day]:
    """Every (kind, local date) within the next DAYS days with its numbers: one query per kind,
    each row put on its local day by a binary search over the days' UTC boundaries."""
    zone = _zone(ws)
    today = now.astimezone(zone).date()
    days = [today + timedelta(days=i) for i in range(DAYS + 1)]
    edges = [_midnight(day, zone) for day in days]  # edges[i] starts days[i]; the last one ends the feed
    connection = session.connection()
    dialect = connection.dialect.name
    found: dict[tuple[str, date], Day] = {}
    for kind in KINDS.values():
        shift = timedelta(days=getattr(ws, kind.shift)) if kind.shift else timedelta(0)
        bounds = [_as_raw(edge - shift, dialect) for edge in edges]
        column, conds, amount = _rows(kind.name)
        # Core, not the ORM: a year of renewals is every number
        rows = connection.execute(sa.select(_raw(column, dialect), Number.number, amount)
                                  .where(*conds, column >= edges[0] - shift, column < edges[-1] - shift)
                                  .order_by(column, Number.number))
        for at, number, price in rows:
            index = bisect_right(bounds, at) - 1
            key = (kind.name, days[index])
            day = found.get(key)
            if day is None:
                day = found[key] = Day()
            day.add(number, price)
    return found


def balance_runs_out(session, ws, now: datetime):
    """The forecast's shortfall within BALANCE_HORIZON days (an Outlook), or None."""
    result = forecast.outlook(session, ws.time_zone, ws.balance_minor, BALANCE_HORIZON, now)
    return result if result.shortfall_at is not None else None


# ---- links ------------------------------------------------------------------------------------

def absolute_url(endpoint: str, **values) -> str:
    """BASE_URL + the app path of `endpoint` (without the request's own sub-path: BASE_URL has it)."""
    path = url_for(endpoint, **values)
    root = request.script_root if request else ""
    if root and path.startswith(root):
        path = path[len(root):]
    return current_app.config["BASE_URL"].rstrip("/") + path


# kinds whose day no /numbers filter key can name (no key filters expired_at, cancelled_at or the
# registration deadline by date): their event links to its numbers themselves, as a pasted list
# (numbers.md §7.6), when the event lists them all; to the nearest filter otherwise
LISTED_KINDS = ("aging_removal", "restore_window_end", "registration_deadline")


def _numbers_link(kind: str, day: date, ws, rows: Day) -> str:
    if kind in LISTED_KINDS and rows.count == len(rows.numbers):
        return absolute_url("numbers.index", q="\n".join(rows.numbers))
    iso = day.isoformat()
    if kind == "expiring_no_renewal":
        return absolute_url("numbers.index", cycles="0", expires_from=iso, expires_to=iso)
    if kind == "renewal":
        return absolute_url("numbers.index", expires_from=iso, expires_to=iso)
    if kind == "aging_removal":  # numbers expire (renewals job) at their expires_at: the same day
        expired_on = (day - timedelta(days=ws.aging_pool_days)).isoformat()
        return absolute_url("numbers.index", status="terminated", expires_from=expired_on, expires_to=expired_on)
    if kind == "restore_window_end":
        return absolute_url("numbers.index", status="terminated")
    return absolute_url("numbers.index", status="awaiting_registration")


# ---- the calendar -----------------------------------------------------------------------------

def _event(uid: str, day: date, summary: str, description: str, link: str, stamp: datetime):
    import icalendar  # see build()
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", link)
    event.add("transp", "TRANSPARENT")  # a reminder, not a busy slot
    return event


def _description(day_rows: Day, link: str) -> str:
    lines = list(day_rows.numbers)
    if day_rows.count > len(lines):
        lines.append(f"… and {day_rows.count - len(lines):,} more")
    return "\n".join([*lines, "", f"Open these numbers: {link}"])


def build(session, now: datetime | None = None) -> bytes:
    """The feed as RFC 5545 bytes (CRLF lines folded at 75 octets, text escaped by icalendar)."""
    # imported here: icalendar costs every web worker about 3 MB (B10), and a calendar client asks
    # for the feed a few times a day
    import icalendar
    now = now or clock.now()
    ws = session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).first()
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    cal = icalendar.Calendar()
    name = f"{ws.name if ws else 'My Numbers'} — My Numbers"
    cal.add("prodid", "-//did-app//My Numbers expiry calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    if ws is None:
        return cal.to_ical()
    cal.add("x-wr-timezone", ws.time_zone)
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for (kind, day), rows in sorted(collect(session, ws, now).items(), key=lambda item: (item[0][1], item[0][0])):
        link = _numbers_link(kind, day, ws, rows)
        cal.add_component(_event(f"{kind}-{day.isoformat()}@{host}", day, KINDS[kind].summary(rows, ws.currency),
                                 _description(rows, link), link, stamp))
    short = balance_runs_out(session, ws, now)
    if short is not None:
        day = short.shortfall_at.astimezone(_zone(ws)).date()
        amount = money.format_money(short.short_total, ws.currency)
        link = absolute_url("billing.forecast")
        text = (f"Balance runs out on {day.isoformat()}: {_plural(short.short_count, 'renewal', 'renewals')} "
                f"({amount}) can't be paid.\n\nOpen the forecast: {link}")
        cal.add_component(_event(f"low_balance_forecast-{day.isoformat()}@{host}", day, "Balance runs out", text,
                                 link, stamp))
    return cal.to_ical()
