"""Renewal, expiry and release jobs and the one-number actions (lifecycle.md §5, §7, §9, §11)."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from did_app import audit
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.lifecycle import create, jobs, periods, service
from did_app.models import AuditEvent, LedgerEntry, Notification, Number, ReleasedNumber, Workspace
from did_app.registration import jobs as registration_jobs
from did_app.workspace import ensure_workspace
from tests import factories
from tests.conftest import T0

ACTOR = audit.Actor(None, "cli", "cli")
UTC = timezone.utc


def _balance(amount):
    ws = ensure_workspace(db.session)
    ws.balance_minor = amount
    db.session.commit()


def _ws():
    db.session.expire_all()
    return db.session.scalar(sa.select(Workspace))


def _add(number="+14155550101", **kw):
    kw.setdefault("monthly_price_minor", 100)
    spec = create.NumberSpec(number=number, country="US", number_type="local", **kw)
    with write_transaction() as session:
        create.create_numbers(session, ACTOR, [spec], kind="add")
    return db.session.scalar(sa.select(Number).where(Number.number == number))


def _get(number_id):
    db.session.expire_all()
    return db.session.get(Number, number_id)


def _run_all():
    return (jobs.renew_due_numbers(), jobs.release_aged_numbers(), jobs.release_unrestored(),
            registration_jobs.remove_overdue())


def _counts():
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                 for m in (LedgerEntry, AuditEvent, Notification, ReleasedNumber))


# ---- period arithmetic -----------------------------------------------------------------------

def test_next_expiry_keeps_the_anchor_day_without_drift():
    jan31 = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    feb = periods.next_expiry(jan31, 1, 31, "UTC")
    assert feb == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    assert periods.next_expiry(feb, 1, 31, "UTC") == datetime(2027, 3, 31, 9, 0, tzinfo=UTC)
    assert periods.next_expiry(jan31, 13, 31, "UTC") == datetime(2028, 2, 29, 9, 0, tzinfo=UTC)


def test_next_expiry_keeps_local_time_across_daylight_saving():
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer
    winter = datetime(2027, 2, 15, 14, 0, tzinfo=UTC)
    assert periods.next_expiry(winter, 1, 15, "America/New_York") == datetime(2027, 3, 15, 13, 0, tzinfo=UTC)


# ---- automatic renewal -----------------------------------------------------------------------

def test_renewal_charges_once_moves_expiry_and_counts_cycles(app, clock):
    with app.app_context():
        _balance(1000)
        n = _add(billing_cycles_count=2)
        first_expiry = n.expires_at
        clock.set(first_expiry)
        assert jobs.renew_due_numbers() == 1
        n = _get(n.id)
        assert n.expires_at == periods.next_expiry(first_expiry, 1, 28, "UTC")
        assert n.billing_cycles_count == 1
        assert _ws().balance_minor == 1000 - 100 - 100
        before = _counts()
        assert _run_all() == (0, 0, 0, 0)
        assert _counts() == before
        key = db.session.scalar(sa.select(LedgerEntry.idempotency_key).where(LedgerEntry.kind == "renewal"))
        assert key == f"renewal:{n.id}:2026-12-28T12:00:00Z"


def test_cycles_zero_expires_and_short_balance_expires_with_notification(app, clock):
    with app.app_context():
        _balance(300)
        zero = _add("+14155550101", billing_cycles_count=0)
        short = _add("+14155550102", monthly_price_minor=500, paid_until=T0 + timedelta(days=3))
        clock.set(T0 + timedelta(days=31))
        jobs.renew_due_numbers()
        zero, short = _get(zero.id), _get(short.id)
        assert zero.expired_at == clock.now() and zero.status == "terminated"
        assert short.expired_at == clock.now()
        reasons = dict(db.session.execute(sa.select(AuditEvent.object_label, AuditEvent.after)
                                          .where(AuditEvent.action == "number.expired")).all())
        assert reasons["+14155550101"]["reason"] == "cycles_zero"
        assert reasons["+14155550102"]["reason"] == "balance"
        note = db.session.scalar(sa.select(Notification))
        assert note.kind == "renewal_failed" and note.count == 1
        assert note.message == "1 number expired: the balance was short."


def test_catch_up_renews_month_by_month_until_not_due(app, clock):
    with app.app_context():
        _balance(10_000)
        n = _add()
        clock.set(n.expires_at + timedelta(days=70))  # three periods due
        jobs.renew_due_numbers()
        rows = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.kind == "renewal")).all()
        assert len(rows) == 3
        assert _get(n.id).expires_at > clock.now()


def test_pending_next_mode_applies_at_renewal(app, clock):
    with app.app_context():
        _balance(10_000)
        n = _add()
        with write_transaction():
            row = db.session.get(Number, n.id)
            row.next_capacity_mode, row.next_monthly_price_minor = "zero_included", 70
        clock.set(n.expires_at)
        jobs.renew_due_numbers()
        n = _get(n.id)
        assert (n.capacity_mode, n.channels_included, n.monthly_price_minor) == ("zero_included", 0, 70)
        assert n.next_capacity_mode is None
        assert db.session.scalar(sa.select(LedgerEntry.amount_minor).where(LedgerEntry.kind == "renewal")) == -70


def test_two_concurrent_renewal_runs_charge_once(app, clock):
    with app.app_context():
        _balance(1_000_000)
        ids = [_add(f"+1415555{i:04d}").id for i in range(30)]
        clock.set(T0 + timedelta(days=31))
    errors = []

    def run():
        with app.app_context():
            try:
                jobs.renew_due_numbers()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.kind == "renewal")) == len(ids)


# ---- one-number actions ----------------------------------------------------------------------

def test_cancel_then_restore_with_paid_time_is_free(app, clock):
    with app.app_context():
        _balance(1000)
        n = _add(billing_cycles_count=3)
        service.cancel(ACTOR, n.id, version=n.version)
        n = _get(n.id)
        assert n.cancelled_at == clock.now() and n.status == "terminated"
        with pytest.raises(DomainError, match="Already terminated"):
            service.cancel(ACTOR, n.id)
        with pytest.raises(DomainError, match="Restore first"):
            service.renew(ACTOR, n.id, 1)
        clock.advance(days=5)
        balance = _ws().balance_minor
        service.restore(ACTOR, n.id)
        n = _get(n.id)
        assert n.cancelled_at is None and n.billing_cycles_count is None
        assert _ws().balance_minor == balance


def test_restore_after_paid_time_charges_a_month_and_resets_anchor(app, clock):
    with app.app_context():
        _balance(1000)
        n = _add()
        service.cancel(ACTOR, n.id)
        clock.set(n.expires_at + timedelta(days=2))  # paid time over, window (35 d) still open
        assert jobs.renew_due_numbers() == 0  # cancelled numbers don't renew
        quote = service.restore(ACTOR, n.id)
        n = _get(n.id)
        assert quote.cost_minor == 100
        assert n.expires_at == periods.next_expiry(clock.now(), 1, n.billing_anchor_day, "UTC")
        assert n.billing_anchor_day == clock.now().day
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_id == n.id)
                                     .order_by(AuditEvent.id)).all()
        assert actions[-2:] == ["number.renewed", "number.restored"]


def test_restore_window_job_releases_cancelled_numbers(app, clock):
    with app.app_context():
        _balance(1000)
        n = _add()
        service.cancel(ACTOR, n.id)
        clock.advance(days=35)
        assert jobs.release_unrestored() == 1
        record = db.session.scalar(sa.select(ReleasedNumber))
        assert record.reason == "cancelled" and record.number == "+14155550101"
        assert jobs.release_unrestored() == 0


def test_manual_renewal_of_expired_number_resets_anchor_and_clears_expiry(app, clock):
    with app.app_context():
        _balance(1000)
        n = _add(billing_cycles_count=0)
        clock.set(n.expires_at + timedelta(days=1))
        jobs.renew_due_numbers()
        assert _get(n.id).expired_at is not None
        quote = service.renew(ACTOR, n.id, 3)
        n = _get(n.id)
        assert n.expired_at is None and n.expires_at == quote.new_expires_at
        assert quote.cost_minor == 300 and quote.note.startswith("Auto-renew stays off")
        row = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.kind == "manual_renewal"))
        assert row.detail == {"months": 3} and row.amount_minor == -300


def test_aging_job_releases_after_34_days(app, clock):
    with app.app_context():
        _balance(100)
        n = _add(billing_cycles_count=0)
        clock.set(n.expires_at)
        jobs.renew_due_numbers()
        clock.advance(days=33)
        assert jobs.release_aged_numbers() == 0
        clock.advance(days=1)
        assert jobs.release_aged_numbers() == 1
        assert db.session.scalar(sa.select(ReleasedNumber.reason)) == "expired"


def test_remove_and_refund_only_for_awaiting(app, clock):
    with app.app_context():
        _balance(1000)
        live = _add("+14155550101")
        awaiting = _add("+14155550102", needs_registration=True, setup_price_minor=50)
        with pytest.raises(DomainError, match="Only numbers awaiting registration"):
            service.remove_and_refund(ACTOR, live.id)
        assert service.remove_and_refund(ACTOR, awaiting.id) == 150
        assert _ws().balance_minor == 1000 - 100
        assert db.session.scalar(sa.select(ReleasedNumber.reason)) == "removed_unregistered"


def test_registration_deadline_spares_numbers_with_a_pending_request(app, clock):
    with app.app_context():
        _balance(1000)
        spared = _add("+14155550101", needs_registration=True)
        removed = _add("+14155550102", needs_registration=True)
        request = factories.make_verification_request(status="pending")
        with write_transaction():
            db.session.get(Number, spared.id).verification_request_id = request.id
        spared_id, removed_id = spared.id, removed.id
        clock.advance(days=30)
        assert registration_jobs.remove_overdue() == 1
        assert _get(spared_id) is not None and _get(removed_id) is None
        assert db.session.scalar(sa.select(LedgerEntry.kind).order_by(LedgerEntry.id.desc())) == "refund"
        assert registration_jobs.remove_overdue() == 0


def test_renewals_job_recomputes_the_cutoff_even_when_nothing_renews(app, clock):
    """The horizon moves with the clock (review finding): balance 50, one renewal of 100 in 40 days."""
    with app.app_context():
        _balance(50)
        n = _add(monthly_price_minor=100, paid_until=T0 + timedelta(days=40))
        assert _ws().renewal_risk_cutoff_at is None  # beyond the 30-day horizon
        clock.advance(days=15)
        assert jobs.renew_due_numbers() == 0
        assert _ws().renewal_risk_cutoff_at == n.expires_at
