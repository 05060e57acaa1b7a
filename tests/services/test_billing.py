"""Top-ups and adjustments (lifecycle.md §6): bounds, the balance never negative, ledger and audit
rows written together, and the renewal-risk cutoff recomputed in the same transaction."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.audit import Actor
from did_app.billing import service
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import AuditEvent, LedgerEntry, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f

ADMIN = Actor(None, "cli", "admin@example.com")


@pytest.fixture
def ws(app):
    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
        yield


def _balance() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(Workspace.balance_minor))


def _ledger() -> list[LedgerEntry]:
    return db.session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id)).all()


def _audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_top_up_writes_a_ledger_row_an_audit_row_and_moves_the_balance(ws):
    row = service.top_up(ADMIN, 25_000, "Wire transfer")
    assert row["balance_after_minor"] == 25_000
    service.top_up(ADMIN, 1_050)
    assert _balance() == 26_050
    rows = _ledger()
    assert [(r.kind, r.amount_minor, r.balance_after_minor, r.note) for r in rows] == [
        ("top_up", 25_000, 25_000, "Wire transfer"), ("top_up", 1_050, 26_050, None)]
    assert rows[0].actor_label == "admin@example.com"
    events = _audit("balance.top_up")
    assert len(events) == 2
    assert events[0].before == {"balance": "0.00"}
    assert events[0].after == {"balance": "250.00", "amount": "250.00"}
    assert events[0].note == "Wire transfer"


@pytest.mark.parametrize("amount", [0, -100, 100_000_001])
def test_top_up_outside_0_01_to_1_000_000_is_refused_and_writes_nothing(ws, amount):
    with pytest.raises(DomainError) as err:
        service.top_up(ADMIN, amount)
    assert err.value.field == "amount"
    assert err.value.message == "Enter an amount from 0.01 to 1,000,000.00."
    assert _ledger() == [] and _balance() == 0 and _audit("balance.top_up") == []


def test_top_up_bounds_themselves_are_accepted(ws):
    service.top_up(ADMIN, 1)
    service.top_up(ADMIN, 100_000_000)
    assert _balance() == 100_000_001


def test_top_up_bounds_follow_the_currency(ws):
    db.session.execute(sa.update(Workspace).values(currency="JPY"))
    db.session.commit()
    with pytest.raises(DomainError, match=r"from 1 to 1,000,000\."):
        service.top_up(ADMIN, 1_000_001)
    service.top_up(ADMIN, 1_000_000)
    assert _balance() == 1_000_000


def test_top_up_note_is_at_most_500_characters(ws):
    with pytest.raises(DomainError) as err:
        service.top_up(ADMIN, 100, "x" * 501)
    assert err.value.field == "note"
    assert _ledger() == []


def test_adjustment_moves_the_balance_both_ways_with_a_note(ws):
    service.top_up(ADMIN, 10_000)
    service.adjust(ADMIN, -2_500, "Carrier credit reversed")
    row = service.adjust(ADMIN, 700, "Goodwill")
    assert row["balance_after_minor"] == 8_200
    assert _balance() == 8_200
    assert [(r.kind, r.amount_minor, r.balance_after_minor) for r in _ledger()] == [
        ("top_up", 10_000, 10_000), ("adjustment", -2_500, 7_500), ("adjustment", 700, 8_200)]
    events = _audit("balance.adjusted")
    assert [e.after["amount"] for e in events] == ["-25.00", "7.00"]
    assert events[0].note == "Carrier credit reversed"


def test_adjustment_that_would_make_the_balance_negative_is_refused(ws):
    service.top_up(ADMIN, 1_000)
    with pytest.raises(DomainError) as err:
        service.adjust(ADMIN, -1_001, "Too much")
    assert err.value.field == "amount"
    assert "would make it negative" in err.value.message
    assert _balance() == 1_000
    assert len(_ledger()) == 1 and _audit("balance.adjusted") == []
    service.adjust(ADMIN, -1_000, "Exactly to zero")
    assert _balance() == 0


@pytest.mark.parametrize("note", [None, "", "   "])
def test_adjustment_needs_a_note(ws, note):
    with pytest.raises(DomainError) as err:
        service.adjust(ADMIN, 500, note)
    assert err.value.field == "note"
    assert _ledger() == []


@pytest.mark.parametrize("amount", [0, 100_000_001, -100_000_001])
def test_adjustment_amount_is_not_zero_and_at_most_a_million_either_way(ws, amount):
    with pytest.raises(DomainError) as err:
        service.adjust(ADMIN, amount, "Note")
    assert err.value.field == "amount"
    assert _ledger() == []


def test_top_up_and_adjustment_recompute_the_cutoff(ws):
    renews = clock.now() + timedelta(days=3)
    f.make_number(monthly_price_minor=500, expires_at=renews, billing_anchor_day=renews.day)
    service.top_up(ADMIN, 400)
    db.session.expire_all()
    assert db.session.scalar(sa.select(Workspace.renewal_risk_cutoff_at)) == renews
    service.top_up(ADMIN, 100)
    assert db.session.scalar(sa.select(Workspace.renewal_risk_cutoff_at)) is None
    service.adjust(ADMIN, -1, "Bank fee")
    assert db.session.scalar(sa.select(Workspace.renewal_risk_cutoff_at)) == renews
