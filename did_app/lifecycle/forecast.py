"""Renewal forecast and the stored "renewal at risk" cutoff (lifecycle.md §10).

An occurrence is one renewal that will happen if nothing changes: a number's `expires_at` and the
following months (`next_expiry`), at most `billing_cycles_count` times, and a capacity pool's
`renew_date`s. The walk sorts them by (instant, pools before numbers, id), the order in which the
renewals job charges them, and adds up their cost. The cutoff is the first occurrence whose
cumulative cost exceeds the balance; a number renewing at or after it is "at risk".

- The horizon of H days runs to the end of the local day H days after today.
- A pool renews when its `renew_date` comes in the workspace time zone: at that local midnight,
  before every number of the same date.

`occurrences()` lists every occurrence (the CSV, the tests' reference walk). The cutoff and the
Forecast page instead add up each local day in SQL, so they cost a pass over an index, not a
Python loop per renewal; only the day where the balance runs out is walked one renewal at a time:
- a first month is `expires_at` itself: one sum per day, as ranges of the expires_at index;
- a later month falls on day min(anchor, days in month) of a later local month, whatever the
  day of `expires_at`, so the numbers expiring in one local month are summed per anchor day and
  cycles left, and those sums land on their days in Python;
- pools, and the later months of numbers already overdue before today (rare), are computed one
  by one.
"""
import heapq
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache

import sqlalchemy as sa

from did_app import clock
from did_app.lifecycle.periods import _zone
from did_app.models import CapacityPool, Number, Workspace
from did_app.rules import renewal

POOL, NUMBER = 0, 1
EARLIER = date.min  # the day key of every renewal already due before today
UTC = timezone.utc


@dataclass(slots=True)
class Occurrence:
    at: datetime
    kind: str               # "pool" or "number"
    id: int
    label: str              # the number (E.164) or the pool's name
    amount_minor: int
    cumulative_minor: int = 0
    covered: bool = True


def _total(expr):
    # PostgreSQL's SUM of bigint is numeric; money stays integer minor units
    return sa.cast(sa.func.coalesce(sa.func.sum(expr), 0), sa.BigInteger)


def _workspace_row(session, lock: bool = False):
    stmt = (sa.select(Workspace.id, Workspace.balance_minor, Workspace.time_zone,
                      Workspace.forecast_horizon_days, Workspace.renewal_risk_cutoff_at)
            .order_by(Workspace.id).limit(1))
    return session.execute(stmt.with_for_update() if lock else stmt).first()


# ---- calendar helpers ----------------------------------------------------------------------------

def _midnight(day: date, zone) -> datetime:
    return datetime.combine(day, time.min, zone).astimezone(UTC)


def _month_start(year: int, month: int, zone) -> datetime:
    year, month0 = divmod(year * 12 + month - 1, 12)
    return _midnight(date(year, month0 + 1, 1), zone)


@cache
def _days_in(year: int, month: int) -> int:
    return monthrange(year, month)[1]


def _plus_months(year: int, month: int, k: int) -> tuple[int, int]:
    years, month0 = divmod(month - 1 + k, 12)
    return year + years, month0 + 1


def horizon_end(now: datetime, horizon_days: int, tz: str) -> datetime:
    """The end of the horizon: midnight after the local day `horizon_days` after today."""
    zone = _zone(tz)
    return _midnight(now.astimezone(zone).date() + timedelta(days=horizon_days + 1), zone)


def _next_pool_date(day: date) -> date:
    """One month on, as the renewals job moves a pool's renew_date."""
    year, month = _plus_months(day.year, day.month, 1)
    return day.replace(year=year, month=month, day=min(day.day, _days_in(year, month)))


# ---- occurrences one by one ----------------------------------------------------------------------

def _pool_items(session, tz: str, end: datetime) -> list[tuple]:
    """Each pool's renewals before `end`, overdue ones (failed renewals) included."""
    rows = session.execute(sa.select(CapacityPool.id, CapacityPool.name, CapacityPool.renew_date,
                                     CapacityPool.total_channels * CapacityPool.monthly_price_minor)
                           .where(CapacityPool.renew_date.is_not(None))).all()
    zone, found = _zone(tz), []
    for pool_id, name, day, amount in rows:
        if not amount:
            continue
        for _ in range(1200):  # a renew_date decades behind still ends
            at = _midnight(day, zone)
            if at >= end:
                break
            found.append((at, POOL, pool_id, name, amount))
            day = _next_pool_date(day)
    return found


def _month_items(rows, tz: str, end: datetime, first: int) -> list[tuple]:
    """Months `first`, first + 1, … of each number before `end`, at most its billing cycles, as
    (at, NUMBER, id, label, price). The arithmetic of periods.next_expiry(expires_at, k), inlined."""
    zone, found = _zone(tz), []
    add = found.append
    plain_utc = tz == "UTC"
    for number_id, number, expires_at, anchor, cycles, price in rows:
        if expires_at.__class__ is str:  # SQLite's stored text: naive UTC
            expires_at = datetime.fromisoformat(expires_at).replace(tzinfo=UTC)
        limit = 100_000 if cycles is None else cycles
        k = first
        if k == 0:
            if limit < 1 or expires_at >= end:
                continue
            add((expires_at, NUMBER, number_id, number, price))
            k = 1
        local = expires_at if plain_utc else expires_at.astimezone(zone)
        while k < limit:
            year, month = _plus_months(local.year, local.month, k)
            at = local.replace(year=year, month=month, day=min(anchor, _days_in(year, month)))
            if not plain_utc:
                at = at.astimezone(UTC)
            if at >= end:
                break
            add((at, NUMBER, number_id, number, price))
            k += 1
    return found


def _number_rows(*conds, labels: bool = True):
    # the raw column skips UTCDateTime's per-row parsing on SQLite (see _month_items)
    return (sa.select(Number.id, Number.number if labels else sa.null(), sa.type_coerce(Number.expires_at, sa.String),
                      Number.billing_anchor_day, Number.billing_cycles_count, renewal.renewal_price_expr())
            .where(*renewal.renews_expr(), *conds))


def timeline(session, horizon_days: int, now: datetime | None = None) -> tuple[list[tuple], int]:
    """(items, balance): every renewal within the horizon as sorted tuples
    (at, POOL or NUMBER, id, label, amount), overdue ones (the next job run charges them) first."""
    now = now or clock.now()
    ws = _workspace_row(session)
    if ws is None:
        return [], 0
    end = horizon_end(now, horizon_days, ws.time_zone)
    items = _pool_items(session, ws.time_zone, end)
    # Core, not the ORM: 100k rows through ORM loading cost a third of a second
    rows = session.connection().execute(_number_rows(Number.expires_at < end))
    items += _month_items(rows, ws.time_zone, end, 0)
    items.sort()
    return items, ws.balance_minor


def occurrences(session, horizon_days: int, now: datetime | None = None) -> list[Occurrence]:
    """Every renewal within the horizon in the order the renewals job would charge them, with
    the cumulative cost and whether the current balance covers it."""
    items, balance = timeline(session, horizon_days, now)
    found, total = [], 0
    for at, rank, item_id, label, amount in items:
        total += amount
        found.append(Occurrence(at, "pool" if rank == POOL else "number", item_id, label, amount,
                                total, total <= balance))
    return found


# ---- day by day --------------------------------------------------------------------------------

@dataclass
class Horizon:
    """Renewals within a horizon summed per local day (EARLIER for those due before today)."""
    tz: str
    today: date
    last_day: date
    end: datetime
    days: dict            # day → [count, total]
    extra: list           # pools and overdue numbers' later months, one by one
    months: list          # (lower, upper, year, month): the local months whose later months are grouped

    def key(self, at: datetime) -> date:
        day = at.astimezone(_zone(self.tz)).date()
        return EARLIER if day < self.today else day

    def add(self, day: date, count: int, total: int) -> None:
        sums = self.days.setdefault(day, [0, 0])
        sums[0] += count
        sums[1] += total


def _day_range(h: Horizon, day: date) -> tuple[datetime | None, datetime]:
    zone = _zone(h.tz)
    if day == EARLIER:
        return None, _midnight(h.today, zone)
    return _midnight(day, zone), min(h.end, _midnight(day + timedelta(days=1), zone))


@cache
def _days_statement(parts: int):
    """First months per day: part 0 is everything before today, part i the i-th day. Each part is
    a range of the expires_at index, so the horizon is read once and nothing is sorted. Built
    once per size: building the selects costs as much as running them."""
    price = renewal.renewal_price_expr()
    selects = []
    for i in range(parts):
        conds = [Number.expires_at < sa.bindparam(f"upper{i}")]
        if i:
            conds.append(Number.expires_at >= sa.bindparam(f"lower{i}"))
        selects.append(sa.select(sa.literal_column(str(i)).label("k"), sa.func.count().label("n"),
                                 _total(price).label("total"))
                       .where(*renewal.renews_expr(), *conds))
    return sa.union_all(*selects)


@cache
def _months_statement(parts: int, capped_last: bool):
    """Numbers expiring in each local month (from today), summed per anchor day and cycles left.
    In the month before the horizon's last month only anchors up to the last day can renew in time."""
    price = renewal.renewal_price_expr()
    selects = []
    for i in range(parts):
        conds = [Number.expires_at >= sa.bindparam(f"lower{i}"), Number.expires_at < sa.bindparam(f"upper{i}"),
                 sa.or_(Number.billing_cycles_count.is_(None), Number.billing_cycles_count >= 2)]
        if capped_last and i == parts - 1:
            conds.append(Number.billing_anchor_day <= sa.bindparam("anchor_cap"))
        selects.append(sa.select(sa.literal_column(str(i)).label("k"), Number.billing_anchor_day,
                                 Number.billing_cycles_count, sa.func.count(), _total(price))
                       .where(*renewal.renews_expr(), *conds)
                       .group_by(Number.billing_anchor_day, Number.billing_cycles_count))
    return sa.union_all(*selects)


def _add_first_months(session, h: Horizon, zone) -> None:
    days = (h.last_day - h.today).days
    edges = [_midnight(h.today + timedelta(days=i), zone) for i in range(days + 2)]
    params = {f"upper{i}": edges[i] for i in range(len(edges))}
    params.update({f"lower{i}": edges[i - 1] for i in range(1, len(edges))})
    keys = [EARLIER] + [h.today + timedelta(days=i) for i in range(days + 1)]
    for k, n, total in session.execute(_days_statement(len(edges)), params):
        if n:
            h.add(keys[int(k)], n, total)


def _add_later_months(session, h: Horizon, zone) -> None:
    """Later months of the numbers expiring from today on, grouped by local month, anchor, cycles."""
    month, last = (h.today.year, h.today.month), _plus_months(h.last_day.year, h.last_day.month, -1)
    while month <= last:
        lower = max(_midnight(h.today, zone), _month_start(*month, zone))
        h.months.append((lower, _month_start(*_plus_months(*month, 1), zone), *month))
        month = _plus_months(*month, 1)
    if not h.months:
        return
    capped = _days_in(h.last_day.year, h.last_day.month) > h.last_day.day
    params = {f"lower{i}": m[0] for i, m in enumerate(h.months)}
    params.update({f"upper{i}": m[1] for i, m in enumerate(h.months)}, anchor_cap=h.last_day.day)
    for k, anchor, cycles, n, total in session.execute(_months_statement(len(h.months), capped), params):
        year, month = h.months[int(k)][2:]
        for step in range(1, 100_000 if cycles is None else cycles):
            y, m = _plus_months(year, month, step)
            day = date(y, m, min(anchor, _days_in(y, m)))
            if day > h.last_day:
                break
            h.add(day, n, total)


def _horizon(session, tz: str, now: datetime, horizon_days: int) -> Horizon:
    """Every renewal of the horizon, summed per local day."""
    zone = _zone(tz)
    today = now.astimezone(zone).date()
    h = Horizon(tz, today, today + timedelta(days=horizon_days), horizon_end(now, horizon_days, tz), {}, [], [])
    _add_first_months(session, h, zone)
    _add_later_months(session, h, zone)
    # pools, and the later months of numbers overdue before today, one by one
    overdue = session.connection().execute(_number_rows(Number.expires_at < _midnight(today, zone), labels=False))
    h.extra = sorted(_pool_items(session, tz, h.end) + _month_items(overdue, tz, h.end, 1))
    for item in h.extra:
        h.add(h.key(item[0]), 1, item[4])
    return h


def _later_on(session, h: Horizon, day: date) -> list[tuple]:
    """The grouped later months that fall on `day`, one by one with their instants."""
    if day == EARLIER:
        return []
    conds = []
    for lower, upper, year, month in h.months:
        k = (day.year - year) * 12 + day.month - month
        if k < 1:
            continue
        anchor = (Number.billing_anchor_day >= day.day if day.day == _days_in(day.year, day.month)
                  else Number.billing_anchor_day == day.day)
        conds.append(sa.and_(Number.expires_at >= lower, Number.expires_at < upper, anchor,
                             sa.or_(Number.billing_cycles_count.is_(None), Number.billing_cycles_count > k)))
    if not conds:
        return []
    rows = session.connection().execute(_number_rows(sa.or_(*conds), labels=False))
    return [item for item in _month_items(rows, h.tz, h.end, 1) if h.key(item[0]) == day]


@cache
def _window_statement(bounded_below: bool):
    price = renewal.renewal_price_expr()
    order = (Number.expires_at, Number.id)
    running = sa.bindparam("before", type_=sa.BigInteger) + sa.cast(
        sa.func.sum(price).over(order_by=order, rows=(None, 0)), sa.BigInteger)
    conds = [Number.expires_at < sa.bindparam("upper")]
    if bounded_below:
        conds.append(Number.expires_at >= sa.bindparam("lower"))
    inner = (sa.select(Number.expires_at.label("at"), Number.id.label("id"), price.label("price"),
                       running.label("running"), sa.func.row_number().over(order_by=order).label("position"))
             .where(*renewal.renews_expr(), *conds).subquery())
    return (sa.select(inner.c.at, inner.c.id, inner.c.price, inner.c.running, inner.c.position)
            .where(inner.c.running > sa.bindparam("low"), inner.c.running - inner.c.price <= sa.bindparam("high"))
            .order_by(inner.c.at, inner.c.id))


@dataclass
class Crossing:
    at: datetime          # the first renewal the balance can't pay
    count_before: int     # renewals of its day walked before it
    total_before: int     # running total (from the horizon's start) just before it


def _crossing_on(session, h: Horizon, day: date, before: int, balance: int) -> Crossing:
    """Walk one day, whose renewals take the running total past the balance.

    Its first months come from the windowed query, which skips those whose running total is at
    most balance − (the day's other renewals): none of them can be the crossing. The walk starts
    from the running total before the first one fetched: exact for the renewals before it when
    nothing was skipped, and when something was, at most that bound, so none of them crosses.
    """
    others = sorted([item for item in h.extra if h.key(item[0]) == day] + _later_on(session, h, day))
    lower, upper = _day_range(h, day)
    params = {"upper": upper, "before": before, "low": balance - sum(item[4] for item in others),
              "high": balance}
    if lower is not None:
        params["lower"] = lower
    firsts = session.execute(_window_statement(lower is not None), params).all()
    start, skipped = (firsts[0].running - firsts[0].price, firsts[0].position - 1) if firsts else (before, 0)
    total, walked = start, skipped
    for key, amount in heapq.merge((((r.at, NUMBER, r.id), r.price) for r in firsts),
                                   ((item[:3], item[4]) for item in others)):
        if total + amount > balance:
            return Crossing(key[0], walked, total)
        total += amount
        walked += 1
    raise AssertionError("the day's sum passed the balance but its walk did not")


def _first_crossing(session, h: Horizon, balance: int) -> tuple[Crossing, date] | None:
    before = 0
    for day in sorted(h.days):
        total = h.days[day][1]
        if before + total > balance:
            return _crossing_on(session, h, day, before, balance), day
        before += total
    return None


def cutoff_at(session, balance: int, tz: str, horizon_days: int, now: datetime) -> datetime | None:
    """The instant of the first renewal within the horizon that the balance can't pay, or None."""
    found = _first_crossing(session, _horizon(session, tz, now, horizon_days), balance)
    return found[0].at if found else None


@dataclass
class Outlook:
    """The day sums of a horizon and, when the balance runs out within it, where and how much."""
    horizon: Horizon
    balance: int
    shortfall_at: datetime | None = None
    short_count: int = 0  # renewals from the first unpaid one on
    short_total: int = 0


def outlook(session, tz: str, balance: int, horizon_days: int, now: datetime) -> Outlook:
    """Day sums plus the shortfall, for the Forecast page: one pass, no per-renewal loop."""
    h = _horizon(session, tz, now, horizon_days)
    result = Outlook(h, balance)
    found = _first_crossing(session, h, balance)
    if found:
        crossing, day = found
        count_before = sum(c for d, (c, _) in h.days.items() if d < day) + crossing.count_before
        result.shortfall_at = crossing.at
        result.short_count = sum(c for c, _ in h.days.values()) - count_before
        result.short_total = sum(t for _, t in h.days.values()) - crossing.total_before
    return result


def recompute_cutoff(session) -> datetime | None:
    """Recompute `workspace.renewal_risk_cutoff_at` in the caller's transaction (call it after any
    change to the balance, prices, billing cycles, expiry dates, or to which numbers renew).

    Locks the workspace row first (PostgreSQL), so two transactions can't store cutoffs computed
    from each other's stale state. Returns the new cutoff.
    """
    ws = _workspace_row(session, lock=True)
    if ws is None:
        return None
    cutoff = cutoff_at(session, ws.balance_minor, ws.time_zone, ws.forecast_horizon_days, clock.now())
    if cutoff != ws.renewal_risk_cutoff_at:
        session.execute(sa.update(Workspace).where(Workspace.id == ws.id)
                        .values(renewal_risk_cutoff_at=cutoff).execution_options(synchronize_session=False))
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Workspace):
                session.expire(obj, ["renewal_risk_cutoff_at"])
    return cutoff
