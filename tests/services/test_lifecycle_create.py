"""Creation (lifecycle.md §2 step 3) and release (§8) services."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from did_app import audit
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.lifecycle import create, release
from did_app.models import AuditEvent, LedgerEntry, Number, Order, ReleasedNumber, Workspace
from did_app.workspace import ensure_workspace
from tests import factories

ACTOR = audit.Actor(None, "cli", "cli")


def _balance(amount):
    ws = ensure_workspace(db.session)
    ws.balance_minor = amount
    db.session.commit()


def _spec(number, **kw):
    return create.NumberSpec(number=number, country="US", number_type="local", monthly_price_minor=150,
                             setup_price_minor=50, **kw)


def test_create_charges_setup_and_first_month_and_writes_history(app):
    with app.app_context():
        _balance(1000)
        specs = [_spec("+14155550101"), _spec("+14155550102")]
        with write_transaction() as session:
            create.apply_rules(session, specs)
            orders = create.create_numbers(session, ACTOR, specs, kind="add")
        assert [o.reference for o in orders] == ["ORD-000001"]
        numbers = db.session.scalars(sa.select(Number).order_by(Number.number)).all()
        assert [n.number for n in numbers] == ["+14155550101", "+14155550102"]
        assert numbers[0].expires_at == datetime(2026, 12, 28, 12, 0, tzinfo=timezone.utc)
        assert numbers[0].billing_anchor_day == 28 and numbers[0].status == "not_configured"
        assert db.session.get(Workspace, 1).balance_minor == 1000 - 400
        rows = db.session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert [(r.kind, r.amount_minor, r.balance_after_minor) for r in rows] == [
            ("add_charge", -200, 800), ("add_charge", -200, 600)]
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "number.added")) == 2


def test_short_balance_writes_nothing(app):
    with app.app_context():
        _balance(100)
        with pytest.raises(DomainError, match="short of"):
            with write_transaction() as session:
                create.create_numbers(session, ACTOR, [_spec("+14155550101")], kind="add")
        assert db.session.scalar(sa.select(sa.func.count(Number.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0
        assert db.session.get(Workspace, 1).balance_minor == 100


def test_existing_number_refused(app):
    with app.app_context():
        _balance(1000)
        factories.make_number(number="+14155550101")
        with pytest.raises(DomainError, match="added by someone else"):
            with write_transaction() as session:
                create.create_numbers(session, ACTOR, [_spec("+14155550101")], kind="add")


def test_paid_until_is_not_charged_and_sets_anchor(app):
    with app.app_context():
        _balance(0)
        until = datetime(2027, 1, 31, 12, 0, tzinfo=timezone.utc)
        with write_transaction() as session:
            create.create_numbers(session, ACTOR, [_spec("+14155550101", paid_until=until)], kind="add")
        number = db.session.scalar(sa.select(Number))
        assert number.expires_at == until and number.billing_anchor_day == 31


def test_release_refunds_net_paid_and_keeps_a_record(app):
    with app.app_context():
        _balance(1000)
        with write_transaction() as session:
            create.create_numbers(session, ACTOR, [_spec("+14155550101", needs_registration=True)], kind="add")
        number = db.session.scalar(sa.select(Number))
        assert number.awaiting_registration and number.registration_deadline_at is not None
        with write_transaction() as session:
            released = release.release_numbers(session, ACTOR, [number.id], "removed_unregistered", refund=True)
        assert released == [number.id]
        record = db.session.scalar(sa.select(ReleasedNumber))
        assert (record.total_charged_minor, record.total_refunded_minor) == (200, 200)
        assert db.session.get(Workspace, 1).balance_minor == 1000
        assert db.session.scalar(sa.select(sa.func.count(Number.id))) == 0
        # a second run finds nothing: the refund key and the deleted row make it a no-op
        with write_transaction() as session:
            assert release.release_numbers(session, ACTOR, [number.id], "removed_unregistered", refund=True) == []


def test_a_new_number_never_takes_a_released_numbers_id(app):
    """SQLite reuses the highest rowid; the ledger keys on number ids (review finding)."""
    with app.app_context():
        _balance(10_000)
        with write_transaction() as session:
            create.create_numbers(session, ACTOR, [_spec("+14155550101")], kind="add")
        old_id = db.session.scalar(sa.select(Number.id))
        with write_transaction() as session:
            release.release_numbers(session, ACTOR, [old_id], "expired")
        with write_transaction() as session:
            create.create_numbers(session, ACTOR, [_spec("+14155550102", needs_registration=True)], kind="add")
        new = db.session.scalar(sa.select(Number))
        assert new.id != old_id
        with write_transaction() as session:
            release.release_numbers(session, ACTOR, [new.id], "removed_unregistered", refund=True)
        refund = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.kind == "refund"))
        assert refund.amount_minor == 200  # its own charge, not the released number's as well
