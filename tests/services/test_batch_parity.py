"""Parity (issue 11, "Done means"): each single-number edit and the one-number batch of the same
change leave the same number row, the same history and the same ledger amounts, apart from the
batch id and the batch's own rows. Two twin numbers start equal; one gets the single edit, the
other the batch; then everything but their identity is compared.

(Voice route, description, capacity limit, a simple profile, capacity group, cancel and renew of
a live number have their twins in test_batches.py, test_batch_capacity.py and test_batch_paid.py.)"""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import audit, clock
from did_app.batches import engine
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.lifecycle import ledger
from did_app.lifecycle import service as lifecycle
from did_app.models import AuditEvent, LedgerEntry, Number, ReleasedNumber, Workspace
from did_app.numbers.edits import update_number
from did_app.workspace import ensure_workspace
from tests import factories as f

ACTOR = audit.Actor(None, "web", "ops@example.com")
IDENTITY = {"id", "number", "created_at", "updated_at"}
HISTORY = ("action", "object_type", "before", "after", "note", "actor_label", "source")


@pytest.fixture
def ctx(app):
    with app.app_context():
        ensure_workspace(db.session)
        db.session.execute(sa.update(Workspace).values(balance_minor=100_000))
        db.session.commit()
        yield


def _twins(**kw):
    return f.make_number(**kw), f.make_number(**kw)


def _row(number_id) -> dict:
    db.session.expire_all()
    n = db.session.get(Number, number_id)
    return {c.key: getattr(n, c.key) for c in Number.__table__.columns if c.key not in IDENTITY}


def _history(number_id) -> list:
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "number", AuditEvent.object_id == number_id).order_by(AuditEvent.id)).all()
    return [{k: getattr(e, k) for k in HISTORY} for e in events]


def _batch_ids(number_id) -> set:
    return set(db.session.scalars(sa.select(AuditEvent.batch_id).where(
        AuditEvent.object_type == "number", AuditEvent.object_id == number_id)))


def _ledger(number_id) -> list:
    return [(r.kind, r.amount_minor, r.note, r.detail) for r in db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.number_id == number_id).order_by(LedgerEntry.id))]


def _batch(code, number, **params):
    batch = engine.preview(ACTOR, code, {"ids": [number.id]}, params)
    assert batch.change_count == 1, (batch.skip_count, batch.error_count)
    engine.confirm(ACTOR, batch.id)
    return batch


def _assert_same(single, batched, batch, *, rows=True):
    if rows:
        assert _row(single.id) == _row(batched.id)
    assert _history(single.id) and _history(single.id) == _history(batched.id)
    assert _ledger(single.id) == _ledger(batched.id)
    assert _batch_ids(single.id) == {None} and _batch_ids(batched.id) == {batch.id}


# ---- routes and profiles -----------------------------------------------------------------------

@pytest.mark.parametrize("assign", [True, False])
def test_sms_route(ctx, assign):
    sms = f.make_sms_trunk(name="sms-in")
    start = {} if assign else {"sms_route_id": sms.id}
    single, batched = _twins(features=("voice_in", "sms_in"), **start)
    target = sms.id if assign else None
    update_number(ACTOR, single.id, single.version, sms_route_id=target)
    _assert_same(single, batched, _batch("sms_route", batched, route_id=target))


def test_apply_profile_with_every_field_and_a_skipped_one(ctx):
    """A voice-only number: the profile's SMS route does not apply; every other field does."""
    trunk, sms = f.make_voice_trunk(name="sip-main"), f.make_sms_trunk(name="sms-in")
    group = f.make_capacity_group(name="shared")
    profile = profiles_service.create_profile(ACTOR, name="Full", voice_route_id=trunk.id, sms_route_id=sms.id,
                                              capacity_group_id=group.id, capacity_limit=8, description="Desk")
    single, batched = _twins()
    result = profiles_service.apply_profile(ACTOR, single.id, profile.id)
    assert result["skipped"] and "sms_route_id" not in result["changed"]
    _assert_same(single, batched, _batch("apply_profile", batched, profile_id=profile.id))


# ---- capacity ----------------------------------------------------------------------------------

def test_dedicated_channels(ctx):
    pool = f.make_pool(name="p1")
    single, batched = _twins()
    update_number(ACTOR, single.id, single.version, dedicated_channels=3, capacity_pool_id=pool.id)
    _assert_same(single, batched, _batch("dedicated", batched, pool_id=pool.id, count=3))


def test_releasing_dedicated_channels(ctx):
    pool = f.make_pool(name="p1")
    single, batched = _twins(dedicated_channels=2, capacity_pool_id=pool.id)
    update_number(ACTOR, single.id, single.version, dedicated_channels=0)
    _assert_same(single, batched, _batch("dedicated", batched, pool_id=None, count=0))


@pytest.mark.parametrize("mode,price", [("zero_included", 120), (None, None)])
def test_next_capacity_mode(ctx, mode, price):
    start = {} if mode else {"next_capacity_mode": "zero_included", "next_monthly_price_minor": 90}
    single, batched = _twins(**start)
    update_number(ACTOR, single.id, single.version, next_capacity_mode=mode, next_monthly_price_minor=price)
    _assert_same(single, batched, _batch("next_mode", batched, mode=mode, price_minor=price))


# ---- billing and the lifecycle -------------------------------------------------------------------

@pytest.mark.parametrize("cycles", [None, 0, 5])
def test_billing_cycles(ctx, cycles):
    start = {"billing_cycles_count": 3 if cycles is None else None}
    single, batched = _twins(**start)
    update_number(ACTOR, single.id, single.version, billing_cycles_count=cycles)
    _assert_same(single, batched, _batch("billing_cycles", batched, cycles=cycles))


def _cancelled(**kw):
    return _twins(cancelled_at=clock.now() - timedelta(days=2), **kw)


def test_restore_with_paid_time_left(ctx):
    single, batched = _cancelled(billing_cycles_count=0)
    lifecycle.restore(ACTOR, single.id)
    _assert_same(single, batched, _batch("restore", batched))


def test_restore_after_paid_time_charges_a_month_and_switches_a_pending_mode(ctx):
    single, batched = _cancelled(expires_at=clock.now() - timedelta(days=1), billing_cycles_count=2,
                                 next_capacity_mode="zero_included", next_monthly_price_minor=90)
    lifecycle.restore(ACTOR, single.id)
    _assert_same(single, batched, _batch("restore", batched))


@pytest.mark.parametrize("start", [
    {"expired_at": "yesterday", "expires_at": "yesterday"},
    {"billing_cycles_count": 0},
    {"next_capacity_mode": "zero_included", "next_monthly_price_minor": None},
    {"expires_at": None, "needs_registration": True, "awaiting_registration": True},
])
def test_renew(ctx, start):
    yesterday = clock.now() - timedelta(days=1)
    start = {k: yesterday if v == "yesterday" else v for k, v in start.items()}
    single, batched = _twins(**start)
    lifecycle.renew(ACTOR, single.id, 6)
    _assert_same(single, batched, _batch("renew", batched, months=6))


def _released(number_id) -> dict:
    row = db.session.scalars(sa.select(ReleasedNumber).where(ReleasedNumber.old_number_id == number_id)).one()
    return {c.key: getattr(row, c.key) for c in ReleasedNumber.__table__.columns
            if c.key not in ("id", "number", "old_number_id")}


def test_remove_and_refund_of_a_paid_number(ctx):
    trunk = f.make_voice_trunk(name="sip-main")
    single, batched = _twins(needs_registration=True, awaiting_registration=True, description="Shop",
                             voice_route_id=trunk.id)
    for number in (single, batched):
        ledger.post(db.session, "add_charge", [ledger.Entry(450, number_id=number.id, number=number.number)], ACTOR)
        ledger.post(db.session, "refund", [ledger.Entry(100, number_id=number.id, number=number.number)], ACTOR)
    db.session.commit()
    one, other = single.id, batched.id
    assert lifecycle.remove_and_refund(ACTOR, one) == 350
    batch = _batch("remove", batched)
    assert batch.total_cost_minor == -350
    assert _released(one) == _released(other)
    assert _history(one) and _history(one) == _history(other)
    assert _ledger(one) == _ledger(other) and _ledger(one)[-1][:2] == ("refund", 350)
    assert _batch_ids(other) == {batch.id}
    assert db.session.get(Number, one) is None and db.session.get(Number, other) is None
