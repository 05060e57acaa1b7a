"""Sixty days of scheduler ticks over numbers in every reminder situation (issue 12, "Done means"):
each expected reminder arrives exactly once, nothing unexpected arrives, and running every tick
twice changes none of the counts.

Built for more channels: a channel is an observer, a function `(app) -> Counter` of what arrived as
(kind, due_on, offset_days). `in_app_reminders` reads the notifications; an SMTP sink or a webhook
receiver plugs in the same way (`walk(app, clock, observers={"email": ..., "webhook": ...})`), and
`assert_each_once` checks any of them against EXPECTED. Event notifications (renewal_failed,
number_released, …) are counted apart by `in_app_events`.
"""
from collections import Counter
from datetime import date, timedelta
from typing import Callable

import pytest
import sqlalchemy as sa

from did_app import audit, scheduler
from did_app.db import db
from did_app.lifecycle import service
from did_app.models import Notification, Number, Proof, ProofType
from did_app.models.registration import Identity, VerificationRequestProof
from did_app.reminders.kinds import KINDS as REMINDER_KINDS
from did_app.workspace import ensure_workspace
from tests import factories
from tests.conftest import T0

ACTOR = audit.Actor(None, "cli", "cli")
TICK = timedelta(hours=6)
DAYS = 60
Observer = Callable[[object], Counter]


def d(month: int, day: int) -> date:
    return date(2026 if month == 12 else 2027, month, day)


def _each(kind: str, due_on: date, offsets=(30, 7, 1)) -> list[tuple]:
    return [(kind, due_on, o) for o in offsets]


# What the walk below must produce, worked out by hand from the situations (T0 = 28 Nov 2026 12:00 UTC).
EXPECTED = Counter(
    # R: 10,000 due 3 Dec, balance 5,000: at risk from the start, 5 days before (the 30-day offset
    # is skipped), expires short on 3 Dec, then ages out 34 days later (6 Jan)
    _each("renewal_balance_short", d(12, 3), (7, 1)) + _each("low_balance_forecast", d(12, 3), (7, 1))
    + _each("aging_removal", d(1, 6))
    # N1: cycles 0, expires 7 Jan, then ages (removal 10 Feb: only the 30-day reminder within the walk)
    + _each("expiring_no_renewal", d(1, 7)) + _each("aging_removal", d(2, 10), (30,))
    # S: cycles 0 until 5 Dec, when it gets 5 cycles: only the first reminder for 20 Dec
    + _each("expiring_no_renewal", d(12, 20), (30,))
    # G1–G3: three numbers expiring on 25 Dec, one notification per offset; they age out on 28 Jan
    + _each("expiring_no_renewal", d(12, 25)) + _each("aging_removal", d(1, 28))
    # M: expires 2 Jan, renewed by hand on 8 Dec to 2 Feb: nothing more for 2 Jan
    + _each("expiring_no_renewal", d(1, 2), (30,)) + _each("expiring_no_renewal", d(2, 2), (30, 7))
    # C: cancelled 18 Nov, restorable until 23 Dec
    + _each("restore_window_end", d(12, 23))
    # D: deadline 8 Dec; D2: deadline 3 Dec (the 30-day offset skipped)
    + _each("registration_deadline", d(12, 8)) + _each("registration_deadline", d(12, 3), (7, 1))
    # P: a proof backing V's approved registration expires 12 Jan
    + _each("proof_expiring", d(1, 12))
)
# R's failed renewal; released: D2 (3 Dec), D (8 Dec), C (23 Dec), R (6 Jan)
EXPECTED_EVENTS = Counter({"renewal_failed": 1, "number_released": 4})


# ---- observers -----------------------------------------------------------------------------------

def in_app_reminders(app) -> Counter:
    with app.app_context():
        rows = db.session.execute(sa.select(Notification.kind, Notification.due_on, Notification.offset_days)
                                  .where(Notification.kind.in_(REMINDER_KINDS))).all()
    return Counter(tuple(r) for r in rows)


def in_app_events(app) -> Counter:
    with app.app_context():
        kinds = db.session.scalars(sa.select(Notification.kind).where(Notification.kind.not_in(REMINDER_KINDS)))
        return Counter(kinds)


def assert_each_once(observed: Counter, expected: Counter = EXPECTED) -> None:
    missing = expected - observed
    unexpected = observed - expected
    assert not missing and not unexpected, f"missing {sorted(missing)}; unexpected or repeated {sorted(unexpected)}"


# ---- the situations ---------------------------------------------------------------------------

def _number(**kw):
    kw.setdefault("monthly_price_minor", 0)  # only R costs money, so only R runs the balance out
    kw.setdefault("expires_at", T0 + timedelta(days=100))
    return factories.make_number(**kw)


def set_up(app) -> dict:
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 5_000
        db.session.commit()
        at = {}
        at["R"] = _number(monthly_price_minor=10_000, expires_at=T0 + timedelta(days=5), billing_anchor_day=3).id
        at["N1"] = _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=40)).id
        at["S"] = _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=22), billing_anchor_day=20).id
        for h in range(3):
            _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=27, hours=-h))
        at["M"] = _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=35), billing_anchor_day=2).id
        _number(cancelled_at=T0 - timedelta(days=10))
        for days in (10, 5):
            _number(needs_registration=True, awaiting_registration=True,
                    registration_deadline_at=T0 + timedelta(days=days))
        request = factories.make_verification_request(status="approved")
        identity = db.session.get(Identity, request.identity_id)
        kind = db.session.scalar(sa.select(ProofType).where(ProofType.entity == "personal").limit(1))
        proof = Proof(identity_id=identity.id, proof_type_id=kind.id, expires_on=d(1, 12))
        db.session.add(proof)
        db.session.flush()
        db.session.add(VerificationRequestProof(request_id=request.id, proof_id=proof.id))
        db.session.commit()
        _number(needs_registration=True, verification_request_id=request.id, identity_id=identity.id,
                expires_at=T0 + timedelta(days=200))
        return at


def _hooks(ids: dict) -> list:
    """(when, action): what people do during the walk, before the tick at or after `when`."""
    def give_s_cycles(app):
        with app.app_context():
            db.session.get(Number, ids["S"]).billing_cycles_count = 5
            db.session.commit()

    def renew_m(app):
        with app.app_context():
            service.renew(ACTOR, ids["M"], 1)
    return [(T0 + timedelta(days=7), give_s_cycles), (T0 + timedelta(days=10), renew_m)]


def walk(app, clock, *, runs_per_tick: int = 1, observers: dict[str, Observer] | None = None) -> dict:
    """Tick every 6 hours for 60 days (each tick `runs_per_tick` times) over the situations;
    returns each observer's Counter, plus "events"."""
    hooks = _hooks(set_up(app))
    for _ in range(DAYS * 24 // 6 + 1):
        while hooks and hooks[0][0] <= clock.now():
            hooks.pop(0)[1](app)
        for _ in range(runs_per_tick):
            results = scheduler.run_all_once(app)
            assert not [r for r in results.values() if isinstance(r, Exception)], results
        clock.advance(seconds=TICK.total_seconds())
    observers = observers or {"in_app": in_app_reminders}
    seen = {name: observe(app) for name, observe in observers.items()}
    seen["events"] = in_app_events(app)
    return seen


@pytest.mark.parametrize("runs_per_tick", [1, 2])
def test_sixty_days_of_ticks_send_each_reminder_exactly_once(app, clock, runs_per_tick):
    seen = walk(app, clock, runs_per_tick=runs_per_tick)
    assert_each_once(seen["in_app"])
    assert seen["events"] == EXPECTED_EVENTS
    with app.app_context():  # G1–G3: one notification per offset, each for the three numbers
        counts = db.session.scalars(sa.select(Notification.count).where(
            Notification.kind == "expiring_no_renewal", Notification.due_on == d(12, 25))).all()
    assert counts == [3, 3, 3]

