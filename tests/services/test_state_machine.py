"""lifecycle.md §9, row by row: from state, event, to state, ledger kind, history, notification.

Rows 3–5 (port-in) are walked in tests/services/test_port_in.py; rows 6–7 (verification decisions)
arrive with the registration screens.
"""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import audit
from did_app.db import db, write_transaction
from did_app.lifecycle import create, jobs, service
from did_app.models import AuditEvent, LedgerEntry, Notification, Number, ReleasedNumber
from did_app.registration import jobs as registration_jobs
from did_app.workspace import ensure_workspace

ACTOR = audit.Actor(None, "cli", "cli")


def _state(number_id):
    db.session.expire_all()
    number = db.session.get(Number, number_id)
    return "RELEASED" if number is None else service.lifecycle_state(number)


def _add(clock, **kw):
    spec = create.NumberSpec(number=kw.pop("number", "+14155550101"), country="US", number_type="local",
                             monthly_price_minor=kw.pop("price", 100), **kw)
    with write_transaction() as session:
        create.create_numbers(session, ACTOR, [spec], kind="add")
    return db.session.scalar(sa.select(Number.id).where(Number.number == spec.number))


def _expired(clock, **kw):
    number_id = _add(clock, billing_cycles_count=0, **kw)
    clock.set(db.session.get(Number, number_id).expires_at)
    jobs.renew_due_numbers()
    return number_id


def _cancelled(clock):
    number_id = _add(clock)
    service.cancel(ACTOR, number_id)
    return number_id


def _due(clock, number_id):
    clock.set(db.session.get(Number, number_id).expires_at)


# (row, set up the from-state → id, the event, expected from, to, ledger kinds, history, notification)
ROWS = [
    (1, lambda c: None, lambda c, _: _add(c), None, "LIVE", ["add_charge"], ["number.added"], None),
    (2, lambda c: None, lambda c, _: _add(c, needs_registration=True), None, "AWAITING", ["add_charge"],
     ["number.added"], None),
    (8, lambda c: _add(c, needs_registration=True), lambda c, i: service.remove_and_refund(ACTOR, i),
     "AWAITING", "RELEASED", ["refund"], ["number.released"], None),
    (9, lambda c: _add(c, needs_registration=True),
     lambda c, i: (c.advance(days=30), registration_jobs.remove_overdue()), "AWAITING", "RELEASED",
     ["refund"], ["number.released"], "number_released"),
    (10, lambda c: _add(c), lambda c, i: (_due(c, i), jobs.renew_due_numbers()), "LIVE", "LIVE", ["renewal"],
     ["number.renewed"], None),
    (11, lambda c: _add(c, billing_cycles_count=0), lambda c, i: (_due(c, i), jobs.renew_due_numbers()),
     "LIVE", "EXPIRED", [], ["number.expired"], None),
    (12, lambda c: _add(c, price=10_000_000, paid_until=c.now() + timedelta(days=3)), lambda c, i: (_due(c, i), jobs.renew_due_numbers()),
     "LIVE", "EXPIRED", [], ["number.expired"], "renewal_failed"),
    (13, lambda c: _expired(c), lambda c, i: service.renew(ACTOR, i, 1), "EXPIRED", "LIVE",
     ["manual_renewal"], ["number.renewed"], None),
    (14, lambda c: _expired(c), lambda c, i: (c.advance(days=34), jobs.release_aged_numbers()), "EXPIRED",
     "RELEASED", [], ["number.released"], "number_released"),
    (15, lambda c: _add(c), lambda c, i: service.cancel(ACTOR, i), "LIVE", "CANCELLED", [],
     ["number.cancelled"], None),
    (16, lambda c: _cancelled(c), lambda c, i: service.restore(ACTOR, i), "CANCELLED", "LIVE", [],
     ["number.restored"], None),
    (17, lambda c: _cancelled(c), lambda c, i: (c.advance(days=31), service.restore(ACTOR, i)), "CANCELLED",
     "LIVE", ["restore_charge"], ["number.renewed", "number.restored"], None),
    (18, lambda c: _cancelled(c), lambda c, i: (c.advance(days=35), jobs.release_unrestored()), "CANCELLED",
     "RELEASED", [], ["number.released"], "number_released"),
]


@pytest.mark.parametrize("row,setup,event,before,after,kinds,actions,notification", ROWS,
                         ids=[f"row-{r[0]}" for r in ROWS])
def test_transition(app, clock, row, setup, event, before, after, kinds, actions, notification):
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 1_000_000
        db.session.commit()
        number_id = setup(clock)
        if before is not None:
            assert _state(number_id) == before
        last_ledger = db.session.scalar(sa.select(sa.func.max(LedgerEntry.id))) or 0
        last_event = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0
        result = event(clock, number_id)
        number_id = number_id or result
        assert _state(number_id) == after
        assert db.session.scalars(sa.select(LedgerEntry.kind).where(LedgerEntry.id > last_ledger)
                                  .order_by(LedgerEntry.id)).all() == kinds
        assert db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.id > last_event, AuditEvent.object_type == "number").order_by(AuditEvent.id)).all() == actions
        notes = db.session.scalars(sa.select(Notification.kind)).all()
        assert notes == ([notification] if notification else [])
        if after == "RELEASED":
            assert db.session.scalar(sa.select(sa.func.count(ReleasedNumber.id))) == 1


def test_awaiting_number_stays_awaiting_after_manual_renewal(app, clock):
    """Row 13: 'LIVE (AWAITING if still awaiting)'."""
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 1_000_000
        db.session.commit()
        number_id = _add(clock, needs_registration=True)
        service.renew(ACTOR, number_id, 3)
        assert _state(number_id) == "AWAITING"
