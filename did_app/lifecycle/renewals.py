"""Renewals, expiries and releases over the whole inventory (lifecycle.md §5, §7, §11): the services
the lifecycle and registration jobs call. Each takes no arguments, reads clock.now() once, and
returns the rows it touched; the rules they apply are in rules/renewal.py.

Idempotent by construction:
- each chunk is one write transaction that first locks what it takes (BEGIN IMMEDIATE on SQLite;
  FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent ticks take different rows);
- every number update repeats the predicate that selected it
  (`expires_at = :seen AND expired_at IS NULL AND cancelled_at IS NULL`);
- a renewal's ledger row carries the unique key `renewal:{number_id}:{old expires_at}`.
"""
import logging
import time
from calendar import monthrange
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from did_app import audit, clock, money
from did_app.audit import SCHEDULER
from did_app.db import write_transaction
from did_app.lifecycle import forecast, ledger, periods, release
from did_app.models import CapacityPool, Number, VerificationRequest, Workspace
from did_app.notifications import service as notifications
from did_app.rules import renewal, status

log = logging.getLogger(__name__)
CHUNK = 500
_N = Number.__table__.c
# Between two chunks a job lets other writers in. SQLite's busy handler is not fair: a process that
# commits and at once begins again keeps the lock while waiters sleep (their polls are 100 ms apart
# by then), so without a gap a long job starves web edits and other ticks into "database is locked".
SQLITE_GAP_S = 0.05
LOCK_RETRIES = 3


def _pause_between_chunks(session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        time.sleep(SQLITE_GAP_S)


def _in_chunks(step) -> int:
    """Run `step(session) -> rows` in one write transaction per chunk until it returns 0.

    A chunk that fails with "database is locked" is retried: every step is idempotent, so a retry
    can't do anything twice. Returns the rows touched.
    """
    total = 0
    while True:
        for attempt in range(LOCK_RETRIES + 1):
            try:
                with write_transaction() as session:
                    done = step(session)
                break
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc) or attempt == LOCK_RETRIES:
                    raise
                log.warning("chunk retried after %s", exc.orig)
        total += done
        if done == 0:
            return total
        if done >= CHUNK:  # more is likely waiting: let other writers in first
            _pause_between_chunks(session)


def _has_workspace() -> bool:
    with write_transaction() as session:
        return session.scalar(sa.select(sa.func.count(Workspace.id))) > 0


def _recompute_cutoff() -> None:
    """Once per job run, after its chunks: the cutoff depends on the whole inventory."""
    with write_transaction() as session:
        forecast.recompute_cutoff(session)


def _workspace(session, lock: bool = False) -> Workspace:
    stmt = sa.select(Workspace).order_by(Workspace.id).limit(1)
    return session.scalars(stmt.with_for_update() if lock else stmt).one()


def _locked(stmt):
    """Lock the selected rows, skipping those another process holds (PostgreSQL; SQLite ignores it
    and is serialised by BEGIN IMMEDIATE instead)."""
    return stmt.with_for_update(skip_locked=True)


# ---- renewals ------------------------------------------------------------------------------

def renew_due_numbers() -> int:
    """Pool renewals, then number renewals and expiries, in (expires_at, id) order, chunk by chunk.

    A number more than one period behind comes back in a later chunk and renews month by month
    until it is no longer due, or expires at the first failure.
    """
    if not _has_workspace():
        return 0  # a fresh install before setup: nothing to renew
    now = clock.now()
    touched = _renew_pools(now) + _in_chunks(lambda session: _renew_chunk(session, now))
    _recompute_cutoff()  # every run: the horizon moves with the clock even when nothing renews
    return touched


def _due_numbers(now: datetime):
    return _locked(
        sa.select(Number.id, Number.number, Number.expires_at, Number.billing_cycles_count,
                  Number.monthly_price_minor, Number.next_capacity_mode, Number.next_monthly_price_minor,
                  Number.billing_anchor_day)
        .where(renewal.due_expr(now))
        .order_by(Number.expires_at, Number.id).limit(CHUNK))


def _renew_chunk(session, now: datetime) -> int:
    ws = _workspace(session, lock=True)
    rows = session.execute(_due_numbers(now)).all()
    if not rows:
        return 0
    balance = ws.balance_minor
    renewals, expiries = [], []
    for r in rows:
        price = renewal.renewal_price(r)
        reason = renewal.expiry_reason(r.billing_cycles_count, price, balance)
        if reason is not None:
            expiries.append((r, reason))
            continue
        balance -= price
        renewals.append((r, price, periods.next_expiry(r.expires_at, 1, r.billing_anchor_day, ws.time_zone)))
    _apply_renewals(session, renewals, now)
    _apply_expiries(session, expiries, now, ws)
    status.recompute(Number.id.in_([r.id for r in rows]))
    return len(rows)


def _unchanged(seen_param: str = "seen"):
    return sa.and_(_N.id == sa.bindparam("b_id"), _N.expires_at == sa.bindparam(seen_param),
                   _N.expired_at.is_(None), _N.cancelled_at.is_(None))


def _apply_renewals(session, renewals, now: datetime) -> None:
    if not renewals:
        return
    mode = _N.next_capacity_mode
    session.execute(
        sa.update(Number.__table__).where(_unchanged()).values(
            expires_at=sa.bindparam("new_expiry"),
            billing_cycles_count=sa.case((_N.billing_cycles_count.is_(None), None),
                                         else_=_N.billing_cycles_count - 1),
            capacity_mode=sa.func.coalesce(mode, _N.capacity_mode),
            channels_included=sa.case((mode == "two_included", 2), (mode == "zero_included", 0),
                                      else_=_N.channels_included),
            monthly_price_minor=sa.case((mode.is_not(None), _N.next_monthly_price_minor),
                                        else_=_N.monthly_price_minor),
            next_capacity_mode=None, next_monthly_price_minor=None,
            version=_N.version + 1, updated_at=now),
        [{"b_id": r.id, "seen": r.expires_at, "new_expiry": new} for r, _, new in renewals])
    ledger.post(session, "renewal", [
        ledger.Entry(price, number_id=r.id, number=r.number,
                     idempotency_key=f"renewal:{r.id}:{periods.iso_key(r.expires_at)}",
                     detail={"from": periods.iso_key(r.expires_at), "to": periods.iso_key(new)})
        for r, price, new in renewals], SCHEDULER)
    audit.record_many(SCHEDULER, [dict(
        action="number.renewed", object_type="number", object_id=r.id, object_label=r.number,
        before={"expires_at": periods.iso_key(r.expires_at), "billing_cycles": r.billing_cycles_count},
        after={"expires_at": periods.iso_key(new),
               "billing_cycles": None if r.billing_cycles_count is None else r.billing_cycles_count - 1,
               **({"capacity_mode": r.next_capacity_mode} if r.next_capacity_mode else {})},
        note="Automatic renewal") for r, _, new in renewals])


def _apply_expiries(session, expiries, now: datetime, ws: Workspace) -> None:
    if not expiries:
        return
    session.execute(
        sa.update(Number.__table__).where(_unchanged()).values(expired_at=now, version=_N.version + 1,
                                                               updated_at=now),
        [{"b_id": r.id, "seen": r.expires_at} for r, _ in expiries])
    audit.record_many(SCHEDULER, [dict(
        action="number.expired", object_type="number", object_id=r.id, object_label=r.number,
        before={"expires_at": periods.iso_key(r.expires_at)}, after={"expired_at": periods.iso_key(now),
                                                                    "reason": reason},
        note="Expired: the balance was short" if reason == renewal.BALANCE else "Expired: no billing cycles left")
        for r, reason in expiries])
    short = [r.number for r, reason in expiries if reason == renewal.BALANCE]
    notifications.notify(session, "renewal_failed", short,
                         f"{notifications.plural(len(short), 'number')} expired: the balance was short.")


def _add_month(day: date) -> date:
    year, month0 = divmod(day.month, 12)
    year, month = day.year + year, month0 + 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def _renew_pools(now: datetime) -> int:
    """Charge each pool whose renew_date has come: total_channels × monthly_price, then move the
    date on a month. When the balance is short nothing is taken: the pool is marked "Renewal
    failed" and retried on every run (configuration.md §4, "Decide")."""
    touched = 0
    with write_transaction() as session:
        ws = _workspace(session, lock=True)
        today = now.astimezone(periods._zone(ws.time_zone)).date()
        pools = session.scalars(_locked(sa.select(CapacityPool).where(CapacityPool.renew_date <= today)
                                        .order_by(CapacityPool.renew_date, CapacityPool.id))).all()
        for pool in pools:
            amount = pool.total_channels * pool.monthly_price_minor
            try:
                with session.begin_nested():
                    ledger.post(session, "pool_charge", [ledger.Entry(
                        amount, pool_id=pool.id, idempotency_key=f"pool_renewal:{pool.id}:{pool.renew_date}",
                        note=f"Pool {pool.name} renewal", detail={"renew_date": pool.renew_date.isoformat()})],
                        SCHEDULER)
            except ledger.BalanceShort:
                if pool.renewal_failed_on is None:
                    pool.renewal_failed_on = today
                    audit.record(SCHEDULER, "capacity_pool.renewal_failed", "capacity_pool", pool.id, pool.name,
                                 after={"renew_date": pool.renew_date.isoformat(),
                                        "amount": money.plain(amount, ws.currency)})
                continue
            old = pool.renew_date
            pool.renew_date = _add_month(old)
            pool.renewal_failed_on = None
            audit.record(SCHEDULER, "capacity_pool.renewed", "capacity_pool", pool.id, pool.name,
                         before={"renew_date": old.isoformat()}, after={"renew_date": pool.renew_date.isoformat()})
            touched += 1
    return touched


# ---- releases --------------------------------------------------------------------------------

def _release_where(condition, reason: str, *, refund: bool = False, kind_message: str) -> int:
    """Release, chunk by chunk, every number matching `condition` (re-checked at delete time)."""
    def step(session) -> int:
        ids = list(session.scalars(_locked(sa.select(Number.id).where(condition)
                                           .order_by(Number.id).limit(CHUNK))))
        if not ids:
            return 0
        by_id = dict(session.execute(sa.select(Number.id, Number.number).where(Number.id.in_(ids))).all())
        done = release.release_numbers(session, SCHEDULER, ids, reason, refund=refund, condition=condition)
        numbers = sorted(by_id[i] for i in done)  # only what was released goes in the notification
        notifications.notify(session, "number_released", numbers,
                             f"{notifications.plural(len(done), 'number')} were released ({kind_message}).")
        return len(done)

    total = _in_chunks(step)
    if total:
        _recompute_cutoff()
    return total


def release_aged_numbers() -> int:
    """Expired numbers past the aging pool (§7, §9 row 14)."""
    return _release_past(Number.expired_at, "aging_pool_days", "expired", kind_message="expired")


def release_unrestored() -> int:
    """Cancelled numbers past the restore window (§7, §9 row 18)."""
    return _release_past(Number.cancelled_at, "restore_window_days", "cancelled",
                         kind_message="cancelled, restore window over")


def _release_past(since, window_setting: str, reason: str, *, kind_message: str) -> int:
    """Release the numbers whose `since` lies more days back than the workspace's `window_setting`."""
    if not _has_workspace():
        return 0
    now = clock.now()
    with write_transaction() as session:
        days = getattr(_workspace(session), window_setting)
    return _release_where(since <= now - timedelta(days=days), reason, kind_message=kind_message)


def overdue_registration_condition(now: datetime):
    """Awaiting numbers past their deadline with no pending or approved verification request."""
    live_request = sa.exists().where(VerificationRequest.id == Number.verification_request_id,
                                     VerificationRequest.status.in_(("pending", "approved")))
    return sa.and_(Number.awaiting_registration.is_(True), Number.porting.is_(False),
                   Number.registration_deadline_at <= now, ~live_request)


def remove_overdue_registrations() -> int:
    """§7 "Registration deadline", §9 row 9: release and refund."""
    return _release_where(overdue_registration_condition(clock.now()), "registration_deadline", refund=True,
                          kind_message="registration deadline passed")
