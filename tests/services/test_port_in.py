"""Port-in requests (lifecycle.md §4): creation, the status table with its roles, completion and
cancellation, adding and removing numbers."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from did_app import audit
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.intake import portin
from did_app.intake.service import Common
from did_app.models import (
    AuditEvent,
    LedgerEntry,
    Notification,
    Number,
    Order,
    PortInRequest,
    ReleasedNumber,
    Requirement,
    Workspace,
)
from did_app.models.lifecycle import PORT_STATUSES
from did_app.workspace import ensure_workspace
from tests import factories

ACTOR = audit.Actor(None, "cli", "cli")
NUMBERS = "+14155550101\n+14155550102\n+442071838750"


def _balance(amount: int) -> None:
    ws = ensure_workspace(db.session)
    ws.balance_minor = amount
    db.session.commit()


def _create(text=NUMBERS, **common) -> PortInRequest:
    return portin.create_port_in(ACTOR, numbers_text=text,
                                 common=Common(**{"monthly_price_minor": 150, "setup_price_minor": 50, **common}),
                                 details=dict(losing_carrier="Old Telco", account_number="A-1", requested_date=None,
                                              identity_id=None, notes=None))


def _move(req_id, target, role="admin", comment="because"):
    version = db.session.get(PortInRequest, req_id).version
    db.session.rollback()
    return portin.change_status(ACTOR, req_id, target, role=role, version=version, comment=comment)


def _set_status(req_id, status):
    db.session.get(PortInRequest, req_id).status = status
    db.session.commit()


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_create_makes_porting_numbers_a_pending_order_and_no_charge(app):
    with app.app_context():
        _balance(1000)
        trunk = factories.make_voice_trunk(name="sip-sf")
        profile = profiles_service.create_profile(ACTOR, name="SF", voice_route_id=trunk.id)
        profiles_service.create_rule(ACTOR, name="US", profile_id=profile.id, countries=["US"])
        req = _create()
        assert (req.reference, req.status, req.losing_carrier) == ("PI-000001", "pending", "Old Telco")
        numbers = db.session.scalars(sa.select(Number).order_by(Number.number)).all()
        assert [n.number for n in numbers] == ["+14155550101", "+14155550102", "+442071838750"]
        assert {(n.porting, n.expires_at, n.status) for n in numbers} == {(True, None, "porting")}
        assert [n.voice_route_id for n in numbers] == [trunk.id, trunk.id, None]  # rules applied
        order = db.session.scalar(sa.select(Order))
        assert (order.kind, order.status, order.number_count, order.port_in_request_id) == ("port_in", "pending", 3, req.id)
        assert _count(LedgerEntry) == 0 and db.session.get(Workspace, 1).balance_minor == 1000
        assert _count(AuditEvent, AuditEvent.action == "number.added") == 3


def test_create_refuses_known_or_invalid_numbers_and_needs_a_carrier(app):
    with app.app_context():
        _balance(0)
        factories.make_number(number="+14155550102")
        with pytest.raises(DomainError) as info:
            _create()
        assert (info.value.message, info.value.field) == ("+14155550102 is already in the inventory.", "numbers")
        with pytest.raises(DomainError, match="Not valid phone numbers: 'nope'"):
            _create("+14155550101\nnope")
        with pytest.raises(DomainError) as info:
            portin.create_port_in(ACTOR, numbers_text="+14155550101", common=Common(monthly_price_minor=1),
                                  details=dict(losing_carrier=" "))
        assert info.value.field == "losing_carrier"
        assert _count(PortInRequest) == 0 and _count(Order) == 0


ROLES = ("admin", "operator")
# §4's table, written out again: (from, to) → who may make the move
SPEC = {("pending", "in_progress"): {"admin"},
        ("pending", "changes_required"): {"admin"}, ("in_progress", "changes_required"): {"admin"},
        ("changes_required", "pending"): {"admin", "operator"},
        ("pending", "completed"): {"admin"}, ("in_progress", "completed"): {"admin"},
        ("changes_required", "completed"): {"admin"},
        ("pending", "cancelled"): {"admin", "operator"}, ("changes_required", "cancelled"): {"admin", "operator"},
        ("in_progress", "cancelled"): {"admin"}}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("source", list(PORT_STATUSES))
@pytest.mark.parametrize("target", list(PORT_STATUSES))
def test_status_table_with_roles(app, source, target, role):
    with app.app_context():
        _balance(10_000)
        req = _create()
        _set_status(req.id, source)
        who = SPEC.get((source, target))
        if who is None:
            with pytest.raises(DomainError) as info:
                _move(req.id, target, role)
            assert not isinstance(info.value, portin.NotAllowed)
        elif role not in who:
            with pytest.raises(portin.NotAllowed):
                _move(req.id, target, role)
        else:
            assert _move(req.id, target, role).status == target
            return
        assert db.session.get(PortInRequest, req.id).status == source


def test_the_table_is_the_specs(app):
    operator_moves = {move for move, lowest in portin.TRANSITIONS.items() if lowest == "operator"}
    assert operator_moves == {("changes_required", "pending"), ("pending", "cancelled"),
                              ("changes_required", "cancelled")}
    assert portin.allowed_moves("in_progress", "operator") == []
    assert portin.allowed_moves("in_progress", "admin") == ["changes_required", "completed", "cancelled"]
    assert portin.allowed_moves("completed", "admin") == []


@pytest.mark.parametrize("target", ["changes_required", "cancelled"])
def test_changes_required_and_cancel_need_a_comment(app, target):
    with app.app_context():
        _balance(0)
        req = _create()
        with pytest.raises(DomainError) as info:
            _move(req.id, target, comment="  ")
        assert info.value.field == "comment"
        assert db.session.get(PortInRequest, req.id).status == "pending"


def test_changes_required_notifies_and_resubmit_returns_to_pending(app):
    with app.app_context():
        _balance(0)
        req = _create()
        _move(req.id, "changes_required", comment="The account number is wrong.")
        note = db.session.scalar(sa.select(Notification))
        assert note.kind == "port_in_changes_required" and "The account number is wrong." in note.message
        assert db.session.get(PortInRequest, req.id).status_comment == "The account number is wrong."
        assert _move(req.id, "pending", role="operator", comment="").status == "pending"


def test_complete_charges_and_starts_the_numbers(app, clock):
    with app.app_context():
        _balance(1000)
        db.session.add(Requirement(country="GB", number_type="local", registration_required=True))
        db.session.commit()
        req = _create()
        clock.advance(days=3)  # completion day: 1 Dec 2026
        _move(req.id, "completed")
        now = clock.now()
        assert db.session.get(Workspace, 1).balance_minor == 1000 - 3 * 200
        rows = db.session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert [(r.kind, r.amount_minor) for r in rows] == [("add_charge", -200)] * 3
        order = db.session.scalar(sa.select(Order))
        assert order.status == "completed" and {r.order_id for r in rows} == {order.id}
        numbers = {n.number: n for n in db.session.scalars(sa.select(Number))}
        us, gb = numbers["+14155550101"], numbers["+442071838750"]
        assert (us.porting, us.expires_at, us.billing_anchor_day) == (False, datetime(2027, 1, 1, 12, 0, tzinfo=timezone.utc), 1)
        assert (us.awaiting_registration, us.registration_deadline_at) == (False, None)
        assert gb.awaiting_registration and gb.registration_deadline_at == now + timedelta(days=30)
        assert (us.status, gb.status) == ("not_configured", "awaiting_registration")
        assert _count(AuditEvent, AuditEvent.action == "number.port_in_completed") == 3
        note = db.session.scalar(sa.select(Notification))
        assert (note.kind, note.count) == ("port_in_completed", 3)


def test_completion_refused_when_short_writes_nothing(app):
    with app.app_context():
        _balance(500)
        req = _create()
        with pytest.raises(DomainError) as info:
            _move(req.id, "completed")
        assert info.value.message == "Balance $5.00 is short of $6.00. Top up before completing."
        assert db.session.get(PortInRequest, req.id).status == "pending"
        assert _count(LedgerEntry) == 0 and db.session.get(Workspace, 1).balance_minor == 500
        assert _count(Number, Number.porting.is_(True)) == 3 and _count(Notification) == 0
        assert db.session.scalar(sa.select(Order.status)) == "pending"


def test_cancel_releases_every_number_and_cancels_the_order(app):
    with app.app_context():
        _balance(0)
        req = _create()
        _move(req.id, "cancelled", role="operator", comment="Customer changed their mind.")
        assert _count(Number) == 0
        assert set(db.session.scalars(sa.select(ReleasedNumber.reason))) == {"port_in_cancelled"}
        assert _count(ReleasedNumber) == 3
        assert db.session.scalar(sa.select(Order.status)) == "cancelled"
        with pytest.raises(DomainError, match="final"):
            _move(req.id, "pending")


def test_numbers_can_be_added_and_removed_while_pending_only(app):
    with app.app_context():
        _balance(0)
        req = _create()
        version = db.session.get(PortInRequest, req.id).version
        assert portin.add_port_in_numbers(ACTOR, req.id, version=version, numbers_text="+14155550103") == 1
        assert db.session.scalar(sa.select(Order.number_count)) == 4
        with pytest.raises(Conflict):  # the add bumped the version
            portin.add_port_in_numbers(ACTOR, req.id, version=version, numbers_text="+14155550104")
        ids = list(db.session.scalars(sa.select(Number.id).where(Number.number.in_(["+14155550101", "+14155550103"]))))
        version = db.session.get(PortInRequest, req.id).version
        assert portin.remove_port_in_numbers(ACTOR, req.id, version=version, number_ids=ids) == 2
        assert db.session.scalar(sa.select(Order.number_count)) == 2
        assert _count(ReleasedNumber, ReleasedNumber.reason == "port_in_cancelled") == 2
        everything = list(db.session.scalars(sa.select(Number.id)))
        version = db.session.get(PortInRequest, req.id).version
        with pytest.raises(DomainError, match="at least one number"):
            portin.remove_port_in_numbers(ACTOR, req.id, version=version, number_ids=everything)
        assert _count(Number) == 2
        _set_status(req.id, "in_progress")
        version = db.session.get(PortInRequest, req.id).version
        with pytest.raises(DomainError, match="can't be edited"):
            portin.add_port_in_numbers(ACTOR, req.id, version=version, numbers_text="+14155550105")


def test_numbers_can_be_added_to_a_demo_port_in(app):
    from did_app import demo

    with app.app_context():
        demo.seed_demo(120, 1)
        req = db.session.scalar(sa.select(PortInRequest).where(PortInRequest.status == "pending"))
        req_id, version = req.id, req.version
        db.session.rollback()
        assert portin.add_port_in_numbers(ACTOR, req_id, version=version, numbers_text="+14155550199") == 1


def test_a_request_that_kept_no_prices_refuses_new_numbers_with_a_message(app):
    with app.app_context():
        _balance(1000)
        req = _create()
        req.common_fields = None
        db.session.commit()
        req_id, version = req.id, req.version
        with pytest.raises(DomainError, match="keeps no prices for new numbers"):
            portin.add_port_in_numbers(ACTOR, req_id, version=version, numbers_text="+14155550199")
