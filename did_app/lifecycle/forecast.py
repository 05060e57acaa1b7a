"""Renewal forecast and the stored "renewal at risk" cutoff (lifecycle.md §10).

An occurrence is one renewal that will happen if nothing changes: a number's `expires_at` and the
following months (`next_expiry`), at most `billing_cycles_count` times, and a capacity pool's
`renew_date`s. The walk sorts them by (instant, pools before numbers, id), the order in which the
renewals job charges them, and adds up their cost. The cutoff is the first occurrence whose
cumulative cost exceeds the balance; a number renewing at or after it is "at risk".

A pool renews when its `renew_date` comes in the workspace time zone, so its instant is that local
midnight: before every number of the same date.
"""
import heapq
from calendar import monthrange
from dataclasses import dataclass
from functools import cache
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from did_app import clock
from did_app.lifecycle.periods import _zone
from did_app.models import CapacityPool, Number, Workspace

POOL, NUMBER = 0, 1
BUCKETS = 32


@dataclass(slots=True)
class Occurrence:
    at: datetime
    kind: str               # "pool" or "number"
    id: int
    label: str              # the number (E.164) or the pool's name
    amount_minor: int
    cumulative_minor: int = 0
    covered: bool = True

    @property
    def key(self) -> tuple:
        return (self.at, POOL if self.kind == "pool" else NUMBER, self.id)


def renewal_price():
    """What a number's next renewal costs: the pending mode's price if one is pending."""
    return sa.case((Number.next_capacity_mode.is_not(None),
                    sa.func.coalesce(Number.next_monthly_price_minor, Number.monthly_price_minor)),
                   else_=Number.monthly_price_minor)


def renewing() -> tuple:
    """Numbers that renew: not terminated, not porting, cycles unlimited or at least 1."""
    # coalesce() is "both null"; it also keeps SQLite's planner (no statistics) off the
    # cancelled_at index, which would visit nine rows in ten one by one
    return (sa.func.coalesce(Number.expired_at, Number.cancelled_at).is_(None), Number.porting.is_(False),
            Number.expires_at.is_not(None),
            sa.or_(Number.billing_cycles_count.is_(None), Number.billing_cycles_count >= 1))


def _workspace_row(session, lock: bool = False):
    stmt = (sa.select(Workspace.id, Workspace.balance_minor, Workspace.time_zone,
                      Workspace.forecast_horizon_days, Workspace.renewal_risk_cutoff_at)
            .order_by(Workspace.id).limit(1))
    return session.execute(stmt.with_for_update() if lock else stmt).first()


def _next_pool_date(day: date) -> date:
    """One month on, as the renewals job moves a pool's renew_date."""
    year, month0 = divmod(day.month, 12)
    year, month = day.year + year, month0 + 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def _pool_items(session, tz: str, end: datetime) -> list[tuple]:
    """Each pool's renewals up to `end`, overdue ones (failed renewals) included."""
    rows = session.execute(sa.select(CapacityPool.id, CapacityPool.name, CapacityPool.renew_date,
                                     CapacityPool.total_channels * CapacityPool.monthly_price_minor)
                           .where(CapacityPool.renew_date.is_not(None))).all()
    zone, found = _zone(tz), []
    for pool_id, name, day, amount in rows:
        if not amount:
            continue
        for _ in range(1200):  # a renew_date decades behind still ends
            at = datetime.combine(day, time.min, zone).astimezone(timezone.utc)
            if at > end:
                break
            found.append((at, POOL, pool_id, name, amount))
            day = _next_pool_date(day)
    return found


@cache
def _days_in(year: int, month: int) -> int:
    return monthrange(year, month)[1]


def _month_items(rows, tz: str, end: datetime, first: int) -> list[tuple]:
    """Months `first`, first + 1, … of each number up to `end`, at most its billing cycles.

    The same arithmetic as periods.next_expiry(expires_at, k), inlined: at 100k numbers and a
    90-day horizon this loop is most of the forecast page's time.
    """
    zone, utc, found = _zone(tz), timezone.utc, []
    add = found.append
    plain_utc = tz == "UTC"
    local_end = end.astimezone(zone)
    last_month = _month_start(local_end.year, local_end.month, zone)  # renews next after end
    for number_id, number, expires_at, anchor, cycles, price in rows:
        if expires_at.__class__ is str:  # SQLite's stored text: naive UTC
            expires_at = datetime.fromisoformat(expires_at).replace(tzinfo=utc)
        limit = 100_000 if cycles is None else cycles
        k = first
        if k == 0:
            if limit < 1 or expires_at > end:
                continue
            add((expires_at, NUMBER, number_id, number, price))
            k = 1
        if expires_at >= last_month:
            continue
        local = expires_at if plain_utc else expires_at.astimezone(zone)
        while k < limit:
            years, month0 = divmod(local.month - 1 + k, 12)
            year, month = local.year + years, month0 + 1
            at = local.replace(year=year, month=month, day=min(anchor, _days_in(year, month)))
            if not plain_utc:
                at = at.astimezone(utc)
            if at > end:
                break
            add((at, NUMBER, number_id, number, price))
            k += 1
    return found


def _number_rows(*conds, labels: bool = True):
    # the raw column skips UTCDateTime's per-row parsing on SQLite (see _month_items)
    return (sa.select(Number.id, Number.number if labels else sa.null(), sa.type_coerce(Number.expires_at, sa.String),
                      Number.billing_anchor_day, Number.billing_cycles_count, renewal_price())
            .where(*renewing(), *conds))


def timeline(session, horizon_days: int, now: datetime | None = None) -> tuple[list[tuple], int]:
    """(items, balance): every renewal from now to now + `horizon_days` as sorted tuples
    (at, POOL or NUMBER, id, label, amount), overdue ones (the next job run charges them) first."""
    now = now or clock.now()
    ws = _workspace_row(session)
    if ws is None:
        return [], 0
    end = now + timedelta(days=horizon_days)
    items = _pool_items(session, ws.time_zone, end)
    # Core, not the ORM: 100k rows through ORM loading cost a third of a second
    rows = session.connection().execute(_number_rows(Number.expires_at <= end))
    items += _month_items(rows, ws.time_zone, end, 0)
    items.sort()
    return items, ws.balance_minor


def occurrences(session, horizon_days: int, now: datetime | None = None) -> list[Occurrence]:
    """Every renewal from now to now + `horizon_days` in the order the renewals job would charge
    them, with the cumulative cost and whether the current balance covers it."""
    items, balance = timeline(session, horizon_days, now)
    found, total = [], 0
    for at, rank, item_id, label, amount in items:
        total += amount
        found.append(Occurrence(at, "pool" if rank == POOL else "number", item_id, label, amount,
                                total, total <= balance))
    return found


# ---- the stored cutoff ------------------------------------------------------------------------

def _month_start(year: int, month: int, zone) -> datetime:
    year, month0 = divmod(year * 12 + month - 1, 12)
    return datetime(year, month0 + 1, 1, tzinfo=zone).astimezone(timezone.utc)


def renews_again_before(end: datetime, tz: str):
    """A condition on Number: its second month may fall at or before `end` (a superset: the exact
    instants are computed in Python). A number's next months fall on day min(anchor, days in
    month) of the following local months, so one expiring before the month preceding end's month
    renews again in time; one expiring in that preceding month only if its anchor day comes by
    end's day; one expiring in end's month renews next in the month after."""
    zone = _zone(tz)
    local_end = end.astimezone(zone)
    this_month = _month_start(local_end.year, local_end.month, zone)
    month_before = _month_start(local_end.year, local_end.month - 1, zone)
    in_time = (Number.expires_at < this_month)
    if monthrange(local_end.year, local_end.month)[1] > local_end.day:
        in_time = sa.and_(in_time, sa.or_(Number.expires_at < month_before,
                                          Number.billing_anchor_day <= local_end.day))
    return in_time


def _later_months(session, tz: str, end: datetime) -> list[tuple]:
    """Second and later months of the numbers that renew again by `end`: those expiring in the
    last days of the month before end's month (few at the default horizon), computed in Python."""
    rows = session.connection().execute(_number_rows(
        renews_again_before(end, tz),
        sa.or_(Number.billing_cycles_count.is_(None), Number.billing_cycles_count >= 2), labels=False))
    return _month_items(rows, tz, end, 1)


def _range(bounded_below: bool) -> list:
    conds = [Number.expires_at <= sa.bindparam("upper")]
    return conds + [Number.expires_at > sa.bindparam("lower")] if bounded_below else conds


@cache
def _bucket_statement():
    """One statement whose parts are ranges of the expires_at index, so the horizon is read once
    and nothing is sorted. Built once: building 33 selects costs as much as running them."""
    price = renewal_price()
    parts = []
    for i in range(BUCKETS + 1):
        conds = [Number.expires_at <= sa.bindparam(f"upper{i}")]
        if i:
            conds.append(Number.expires_at > sa.bindparam(f"lower{i}"))
        parts.append(sa.select(sa.literal_column(str(i)).label("k"), sa.func.count().label("n"),
                               sa.func.coalesce(sa.func.sum(price), 0).label("total")).where(*renewing(), *conds))
    return sa.union_all(*parts)


def _bucket_sums(session, now: datetime, end: datetime) -> list[tuple]:
    """(lower, upper, rows, total) of the first months in BUCKETS slices of the horizon, plus one
    slice (unbounded below) for overdue renewals."""
    step = (end - now) / BUCKETS
    edges = [None, now] + [now + step * i for i in range(1, BUCKETS)] + [end]
    params = {f"upper{i}": edges[i + 1] for i in range(BUCKETS + 1)}
    params.update({f"lower{i}": edges[i] for i in range(1, BUCKETS + 1)})
    sums = {int(k): (n, total) for k, n, total in session.execute(_bucket_statement(), params)}
    return [(edges[i], edges[i + 1], *sums.get(i, (0, 0))) for i in range(BUCKETS + 1)]


@cache
def _window_statement(bounded_below: bool):
    price = renewal_price()
    running = sa.bindparam("before") + sa.func.sum(price).over(order_by=(Number.expires_at, Number.id),
                                                                rows=(None, 0))
    inner = (sa.select(Number.expires_at.label("at"), Number.id.label("id"), price.label("price"),
                       running.label("running"))
             .where(*renewing(), *_range(bounded_below)).subquery())
    return (sa.select(inner.c.at, inner.c.id, inner.c.price, inner.c.running)
            .where(inner.c.running > sa.bindparam("low"), inner.c.running - inner.c.price <= sa.bindparam("high"))
            .order_by(inner.c.at, inner.c.id))


def _first_months_between(session, lower, upper, before: int, low: int, high: int):
    """The first months in (lower, upper] whose running total (from `before`) exceeds `low`, up to
    and including the first one whose running total exceeds `high`: the windowed query."""
    params = {"upper": upper, "before": before, "low": low, "high": high}
    if lower is not None:
        params["lower"] = lower
    return session.execute(_window_statement(lower is not None), params).all()


def _first_crossing(pairs, start: int, balance: int) -> datetime | None:
    """The instant of the first (key, amount) whose running total from `start` exceeds `balance`."""
    total = start
    for key, amount in pairs:
        total += amount
        if total > balance:
            return key[0]
    return None


def _crossing_within(session, lower, upper, before: int, extra: list[tuple], balance: int):
    """The crossing inside one slice: its first months (windowed, from `before`) merged with the
    pools and later months that fall in it.

    First months whose running total is at most balance − Σ extra can't be the crossing and are
    skipped. The walk starts from the running total before the first fetched one: exact for the
    extras before it when nothing was skipped, and when something was, at most that bound, so
    no extra before it crosses either.
    """
    firsts = _first_months_between(session, lower, upper, before,
                                   balance - sum(e[4] for e in extra), balance)
    if not firsts:
        return _first_crossing(((e[:3], e[4]) for e in extra), before, balance)
    return _first_crossing(heapq.merge((((r.at, NUMBER, r.id), r.price) for r in firsts),
                                       ((e[:3], e[4]) for e in extra)),
                           firsts[0].running - firsts[0].price, balance)


def cutoff_at(session, balance: int, tz: str, horizon_days: int, now: datetime) -> datetime | None:
    """The instant of the first renewal within the horizon that the balance can't pay, or None.

    First months are `expires_at` itself: summed per slice of the horizon in SQL. Pools and later
    months (few) are computed in Python and added to their slice. Walking the slices finds the one
    where the running total passes the balance; the windowed query then reads only that slice.
    """
    end = now + timedelta(days=horizon_days)
    extra = sorted(_pool_items(session, tz, end) + _later_months(session, tz, end))
    before, taken = 0, 0
    for lower, upper, rows, total in _bucket_sums(session, now, end):
        inside = []
        while taken < len(extra) and extra[taken][0] <= upper:
            inside.append(extra[taken])
            taken += 1
        after = before + total + sum(e[4] for e in inside)
        if after > balance:
            if not rows:
                return _first_crossing(((e[:3], e[4]) for e in inside), before, balance)
            return _crossing_within(session, lower, upper, before, inside, balance)
        before = after
    return None


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
