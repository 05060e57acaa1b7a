"""The batch actions that touch billing and the lifecycle (batch.md §3): Renew, Restore, Remove and
refund, Cancel, Change billing cycles — outcomes, skips, costs, the ledger (exactly the previewed
total, the balance_after chain unbroken, the batch id on every row), a short balance refused at
preview and at confirm, undo, and parity with the single-number actions."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import audit, clock, filters, money
from did_app.batches import engine, queries
from did_app.db import db
from did_app.errors import DomainError
from did_app.lifecycle import ledger
from did_app.lifecycle import service as lifecycle
from did_app.lifecycle.service import renew_quote
from did_app.models import AuditEvent, Batch, BatchItem, LedgerEntry, Number, ReleasedNumber, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f

ACTOR = audit.Actor(None, "web", "ops@example.com")


@pytest.fixture
def ctx(app):
    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
        yield


def _set_balance(minor: int) -> None:
    db.session.execute(sa.update(Workspace).values(balance_minor=minor))
    db.session.commit()


def _balance() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(Workspace.balance_minor))


def _usd(minor: int) -> str:
    return money.format_money(minor, "USD")


def _fresh(number_id):
    db.session.expire_all()
    return db.session.get(Number, number_id)


def _items(batch_id):
    return {i.number: i for i in db.session.scalars(sa.select(BatchItem).where(BatchItem.batch_id == batch_id))}


def _preview(code, numbers, **params):
    return engine.preview(ACTOR, code, {"ids": [n.id for n in numbers]}, params)


def _ledger(batch_id=None):
    stmt = sa.select(LedgerEntry).order_by(LedgerEntry.id)
    if batch_id is not None:
        stmt = stmt.where(LedgerEntry.batch_id == batch_id)
    return db.session.scalars(stmt).all()


def _assert_chain_unbroken(start: int) -> None:
    running = start
    for row in _ledger():
        running += row.amount_minor
        assert row.balance_after_minor == running, row.id
    assert running == _balance()


def _history(batch_id):
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.batch_id == batch_id)
                              .order_by(AuditEvent.id)).all()


# ---- Renew -------------------------------------------------------------------------------------

def test_renew_outcomes_skips_and_costs(ctx):
    live = f.make_number()
    awaiting = f.make_number(awaiting_registration=True, needs_registration=True)
    expired = f.make_number(expires_at=clock.now() - timedelta(days=3), expired_at=clock.now() - timedelta(days=2))
    pending = f.make_number(next_capacity_mode="zero_included", next_monthly_price_minor=90)
    cancelled = f.make_number(cancelled_at=clock.now())
    porting = f.make_number(porting=True)
    _set_balance(100_000)
    batch = _preview("renew", [live, awaiting, expired, pending, cancelled, porting], months=3)
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count, batch.error_count) == (4, 2, 0)
    assert items[cancelled.number].reason == "Cancelled — restore first"
    assert items[porting.number].reason == "Porting in progress"
    assert items[live.number].cost_minor == 450 and items[pending.number].cost_minor == 270  # next price
    assert batch.total_cost_minor == 3 * 450 + 270 and batch.message is None
    assert engine.ACTIONS["renew"].confirmation_for(batch) == (
        f"Renew 4 numbers for 3 months for {_usd(1620)}? Balance after: {_usd(100_000 - 1620)}.")


def test_renew_charges_exactly_the_previewed_total_with_the_batch_id(ctx):
    live, expired = f.make_number(), f.make_number(expires_at=clock.now() - timedelta(days=3),
                                                   expired_at=clock.now() - timedelta(days=2))
    _set_balance(10_000)
    old_expiry = live.expires_at
    batch = _preview("renew", [live, expired], months=12)
    engine.confirm(ACTOR, batch.id)
    rows = _ledger(batch.id)
    assert sum(-r.amount_minor for r in rows) == batch.total_cost_minor == 3600
    assert {r.kind for r in rows} == {"manual_renewal"} and len(rows) == 2
    assert _balance() == 10_000 - 3600
    _assert_chain_unbroken(10_000)
    assert _fresh(live.id).expires_at > old_expiry + timedelta(days=330)  # 12 months, on the anchor day
    assert _fresh(expired.id).expired_at is None and _fresh(expired.id).status != "expired"
    history = _history(batch.id)
    assert [h.action for h in history] == ["number.renewed"] * 2
    assert all(h.after["months"] == 12 and h.after["charged"] == 1800 for h in history)
    assert db.session.get(Batch, batch.id).status == "applied"
    assert engine.undo_refusal(ACTOR, db.session.get(Batch, batch.id), is_admin=True) == "Paid actions can't be undone."
    with pytest.raises(DomainError, match="Paid actions can't be undone."):
        engine.undo(ACTOR, batch.id, is_admin=True)


def test_renew_short_balance_is_a_batch_error_at_preview(ctx):
    number = f.make_number()
    _set_balance(100)
    batch = _preview("renew", [number], months=1)
    assert batch.message == f"Balance {_usd(100)} is short of {_usd(150)}."
    with pytest.raises(DomainError, match="Resolve the"):
        engine.confirm(ACTOR, batch.id)
    assert _ledger() == [] and _balance() == 100


def test_renew_short_balance_at_confirm_writes_nothing(ctx):
    number = f.make_number()
    _set_balance(1000)
    batch = _preview("renew", [number], months=6)
    assert batch.message is None
    _set_balance(800)  # lowered between the preview and the confirm
    with pytest.raises(DomainError, match=r"is short of"):
        engine.confirm(ACTOR, batch.id)
    assert _ledger() == [] and _balance() == 800 and _fresh(number.id).version == number.version
    assert db.session.get(Batch, batch.id).status == "previewed"
    assert _history(batch.id) == []


def test_renew_price_moved_since_preview_is_stale(ctx):
    number = f.make_number()
    _set_balance(10_000)
    batch = _preview("renew", [number], months=1)
    db.session.execute(sa.update(Number).values(monthly_price_minor=999))
    db.session.commit()
    with pytest.raises(DomainError, match="1 numbers changed since the preview"):
        engine.confirm(ACTOR, batch.id)
    assert _ledger() == []


def test_renew_months_must_be_one_of_the_choices(ctx):
    number = f.make_number()
    with pytest.raises(DomainError, match=r"Choose 1, 3, 6, 12 or 24 months\."):
        _preview("renew", [number], months=2)


# ---- Restore -----------------------------------------------------------------------------------

def test_restore_outcomes_costs_and_charge(ctx):
    free = f.make_number(cancelled_at=clock.now() - timedelta(days=2), billing_cycles_count=0)
    over = f.make_number(cancelled_at=clock.now() - timedelta(days=2), expires_at=clock.now() - timedelta(days=1))
    ended = f.make_number(cancelled_at=clock.now() - timedelta(days=40))
    live = f.make_number()
    _set_balance(1000)
    batch = _preview("restore", [free, over, ended, live])
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count) == (2, 2)
    assert items[live.number].reason == "Not cancelled"
    assert items[ended.number].reason.startswith("Restore window ended ")
    assert items[free.number].cost_minor == 0 and items[over.number].cost_minor == 150
    assert engine.ACTIONS["restore"].confirmation_for(batch) == (
        f"Restore 2 numbers? 1 free, 1 charged one month: {_usd(150)}. Billing cycles reset to unlimited.")
    engine.confirm(ACTOR, batch.id)
    rows = _ledger(batch.id)
    assert [(r.kind, r.amount_minor, r.number) for r in rows] == [("restore_charge", -150, over.number)]
    _assert_chain_unbroken(1000)
    assert _fresh(free.id).cancelled_at is None and _fresh(free.id).billing_cycles_count is None
    assert _fresh(over.id).expires_at > clock.now() + timedelta(days=27)
    assert [h.action for h in _history(batch.id)].count("number.restored") == 2
    with pytest.raises(DomainError, match="Paid actions can't be undone."):
        engine.undo(ACTOR, batch.id, is_admin=True)


def test_a_free_restore_can_be_undone(ctx):
    number = f.make_number(cancelled_at=clock.now() - timedelta(days=2), billing_cycles_count=3)
    batch = _preview("restore", [number])
    engine.confirm(ACTOR, batch.id)
    assert _ledger() == []
    engine.undo(ACTOR, batch.id, is_admin=True)
    back = _fresh(number.id)
    assert back.cancelled_at == number.cancelled_at and back.billing_cycles_count == 3


def test_restore_short_balance(ctx):
    number = f.make_number(cancelled_at=clock.now() - timedelta(days=2), expires_at=clock.now() - timedelta(days=1))
    _set_balance(10)
    batch = _preview("restore", [number])
    assert batch.message == f"Balance {_usd(10)} is short of {_usd(150)}."


# ---- Remove and refund -------------------------------------------------------------------------

def _charge(number, amount):
    ledger.post(db.session, "add_charge", [ledger.Entry(amount, number_id=number.id, number=number.number)], ACTOR)
    db.session.commit()


def test_remove_and_refund_refunds_the_net_paid_and_releases(ctx):
    request = f.make_verification_request()
    waiting = f.make_number(awaiting_registration=True, needs_registration=True)
    in_review = f.make_number(awaiting_registration=True, needs_registration=True,
                              verification_request_id=request.id)
    live = f.make_number()
    _set_balance(5000)
    _charge(waiting, 300)
    _charge(in_review, 450)
    start, ids = _balance(), (waiting.id, in_review.id)
    batch = _preview("remove", [waiting, in_review, live])
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count) == (2, 1)
    assert items[live.number].reason == "Not awaiting registration"
    assert batch.total_cost_minor == -750 and batch.message is None
    assert engine.ACTIONS["remove"].confirmation_for(batch) == (
        f"Remove 2 numbers awaiting registration and refund {_usd(750)}? They are released at once. "
        "This can't be undone.")
    engine.confirm(ACTOR, batch.id)
    rows = _ledger(batch.id)
    assert sorted(r.amount_minor for r in rows) == [300, 450] and {r.kind for r in rows} == {"refund"}
    assert _balance() == start + 750
    _assert_chain_unbroken(5000)
    assert [_fresh(i) for i in ids] == [None, None]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReleasedNumber)) == 2
    assert {h.action for h in _history(batch.id)} == {"number.released"}
    assert engine.undo_refusal(ACTOR, db.session.get(Batch, batch.id), is_admin=True) == "Paid actions can't be undone."


# ---- Cancel ------------------------------------------------------------------------------------

def test_cancel_outcomes_and_skips(ctx):
    live = f.make_number()
    porting = f.make_number(porting=True)
    awaiting = f.make_number(awaiting_registration=True, needs_registration=True)
    cancelled = f.make_number(cancelled_at=clock.now())
    batch = _preview("cancel", [live, porting, awaiting, cancelled])
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count) == (1, 3)
    assert items[porting.number].reason == "Porting — cancel the port-in request"
    assert items[awaiting.number].reason == "Awaiting registration — use Remove and refund"
    assert items[cancelled.number].reason == "Already terminated"
    text = engine.ACTIONS["cancel"].confirmation_for(batch)
    assert text.startswith("Cancel 1 numbers now? Traffic stops at once. They can be restored until ")
    assert text.endswith("; after that they are released even if paid time remains.")
    assert not engine.ACTIONS["cancel"].needs_typing(10) and engine.ACTIONS["cancel"].needs_typing(11)


def test_cancel_writes_the_confirm_time_and_undo_clears_it(ctx, clock):
    number = f.make_number()
    batch = _preview("cancel", [number])
    confirmed_at = clock.advance(minutes=5)
    engine.confirm(ACTOR, batch.id)
    assert _fresh(number.id).cancelled_at == confirmed_at
    assert _fresh(number.id).status == "terminated"
    assert engine.undo_refusal(ACTOR, db.session.get(Batch, batch.id), is_admin=True) is None
    engine.undo(ACTOR, batch.id, is_admin=True)
    back = _fresh(number.id)
    assert back.cancelled_at is None and back.expires_at == number.expires_at and back.status == number.status


def test_cancel_undo_is_refused_once_paid_time_ran_out(ctx, clock):
    number = f.make_number(expires_at=clock.now() + timedelta(hours=2))
    batch = _preview("cancel", [number])
    engine.confirm(ACTOR, batch.id)
    clock.advance(hours=3)
    with pytest.raises(DomainError, match=r"Paid time ran out for 1 numbers; restore them instead\."):
        engine.undo(ACTOR, batch.id, is_admin=True)


# ---- Change billing cycles ---------------------------------------------------------------------

def test_billing_cycles_outcomes_and_undo(ctx):
    auto, three = f.make_number(), f.make_number(billing_cycles_count=3)
    porting = f.make_number(porting=True)
    cancelled = f.make_number(cancelled_at=clock.now())
    expired = f.make_number(expires_at=clock.now() - timedelta(days=3), expired_at=clock.now() - timedelta(days=2))
    batch = _preview("billing_cycles", [auto, three, porting, cancelled, expired], cycles=3)
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count) == (2, 3)
    assert items[three.number].reason == "Already 3 more renewals"
    assert items[cancelled.number].reason == "Cancelled — restore resets renewal"
    assert items[expired.number].reason == "Expired — renew first"
    assert engine.ACTIONS["billing_cycles"].confirmation_for(batch) == "Set 2 numbers to renew 3 more times?"
    engine.confirm(ACTOR, batch.id)
    assert _fresh(auto.id).billing_cycles_count == 3 and _fresh(porting.id).billing_cycles_count == 3
    assert _ledger() == []
    engine.undo(ACTOR, batch.id, is_admin=True)
    assert _fresh(auto.id).billing_cycles_count is None


@pytest.mark.parametrize("cycles", [1000, -1, "3", True])
def test_billing_cycles_refuses_with_the_single_edit_message(ctx, cycles):
    number = f.make_number()
    with pytest.raises(DomainError, match=r"Enter a whole number of renewals from 1 to 999\."):
        _preview("billing_cycles", [number], cycles=cycles)


def test_billing_cycles_texts(ctx):
    number = f.make_number(billing_cycles_count=0)
    batch = _preview("billing_cycles", [number], cycles=0)
    assert _items(batch.id)[number.number].reason == "Already not renewing"
    assert engine.ACTIONS["billing_cycles"].confirmation(4, {"cycles": None}) == "Set 4 numbers to auto-renew?"
    assert engine.ACTIONS["billing_cycles"].confirmation(4, {"cycles": 0}) == "Set 4 numbers to not renew?"


# ---- parity with the single-number actions -------------------------------------------------------

def _state(number_id):
    n = _fresh(number_id)
    return {c.key: getattr(n, c.key) for c in Number.__table__.columns
            if c.key not in ("id", "number", "created_at")}


def _single_history(number_id):
    return [(e.action, e.before, e.after, e.note) for e in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.object_id == number_id, AuditEvent.object_type == "number",
                                    AuditEvent.action != "number.created").order_by(AuditEvent.id))]


def _ledger_of(number_id):
    return [(r.kind, r.amount_minor, r.note, r.detail) for r in db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.number_id == number_id).order_by(LedgerEntry.id))]


@pytest.mark.parametrize("code, single, params", [
    ("cancel", lambda n: lifecycle.cancel(ACTOR, n.id), {}),
    ("renew", lambda n: lifecycle.renew(ACTOR, n.id, 3), {"months": 3}),
])
def test_one_number_batch_equals_the_single_action(ctx, code, single, params):
    _set_balance(10_000)
    one = f.make_number(next_capacity_mode="zero_included", next_monthly_price_minor=90)
    other = f.make_number(next_capacity_mode="zero_included", next_monthly_price_minor=90)
    single(one)
    batch = _preview(code, [other], **params)
    engine.confirm(ACTOR, batch.id)
    assert _state(one.id) == _state(other.id)
    assert _single_history(one.id) == _single_history(other.id)
    assert _ledger_of(one.id) == _ledger_of(other.id)
    assert all(e.batch_id == batch.id for e in _history(batch.id)) and _history(batch.id)
    assert all(r.batch_id == batch.id for r in _ledger(batch.id))


def test_renew_preview_shows_each_expiry_before_and_after_by_the_single_rule(ctx):
    """The preview's before → after expiry is renew_quote's (the dialog of a single renewal), from the
    expiry for a live number and from today for an expired one; once applied, it is what was written."""
    live = f.make_number()
    expired = f.make_number(expires_at=clock.now() - timedelta(days=3), expired_at=clock.now() - timedelta(days=2))
    _set_balance(10_000)
    batch = _preview("renew", [live, expired], months=3)
    items, ws = _items(batch.id), lifecycle._workspace(db.session)  # noqa: SLF001
    for number in (live, expired):
        (change,) = queries.changes(batch, items[number.number])
        expected = renew_quote(_fresh(number.id), 3, ws).new_expires_at
        assert change.field == "Expires" and change.after == filters.fmt_date(expected)
        assert change.before == filters.fmt_date(_fresh(number.id).expires_at)
    assert filters.fmt_date(clock.now() + timedelta(days=20)) != queries.changes(batch, items[live.number])[0].after
    engine.confirm(ACTOR, batch.id)
    applied = db.session.get(Batch, batch.id)
    for number in (live, expired):
        (change,) = queries.changes(applied, items[number.number])
        assert change.after == filters.fmt_date(_fresh(number.id).expires_at)
