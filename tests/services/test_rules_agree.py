"""The rules of did_app/rules/ that classify many numbers: each per-number check agrees with its SQL
predicate on an inventory covering every case (as test_status.py does for the status)."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from did_app import clock
from did_app.db import db
from did_app.models import Number, Workspace
from did_app.models.registration import VERIFICATION_STATES
from did_app.numbers import queries
from did_app.numbers.display import verification_state
from did_app.rules import attention, renewal
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import T0

DAY = timedelta(days=1)
CUTOFF = T0 + 4 * DAY  # the first renewal the balance can't pay

EXPECTED = {  # (reason with the cutoff, reason without one); warn days 7, restore window 35 days
    "active_far": (None, None),
    "paid_soon": (None, None),
    "due_now": (None, None),
    "due_now_cycles_zero": ("cycles_zero_soon", "cycles_zero_soon"),
    "not_configured": ("not_configured", "not_configured"),
    "not_configured_cycles_zero_soon": ("not_configured", "not_configured"),
    "awaiting_missing": ("registration", "registration"),
    "awaiting_rejected": ("registration", "registration"),
    "awaiting_pending": (None, None),
    "awaiting_pending_cycles_zero_soon": ("cycles_zero_soon", "cycles_zero_soon"),
    "awaiting_pending_at_risk_soon": ("at_risk_soon", None),
    "expired": ("expired", "expired"),
    "cancelled_recently": (None, None),
    "cancelled_window_ending": ("restore_ends_soon", "restore_ends_soon"),
    "cancelled_expiring_after_cutoff": (None, None),
    "porting": (None, None),
    "cycles_zero_soon": ("cycles_zero_soon", "cycles_zero_soon"),
    "cycles_zero_far": (None, None),
    "at_risk_soon": ("at_risk_soon", None),
    "at_risk_soon_unlimited": ("at_risk_soon", None),
    "at_risk_soon_next_mode": ("at_risk_soon", None),
    "at_risk_far": (None, None),
    "at_risk_on_the_cutoff": ("at_risk_soon", None),
}


@pytest.fixture
def inventory(app):
    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
        now = clock.now()
        trunk = f.make_voice_trunk().id
        routed = dict(voice_route_id=trunk)

        def awaiting(vr_status=None, **kw):
            vr = f.make_verification_request(status=vr_status).id if vr_status else None
            return dict(needs_registration=True, awaiting_registration=True, verification_request_id=vr,
                        **routed, **kw)

        cases = {
            "active_far": dict(**routed),
            "paid_soon": dict(**routed, expires_at=now + 2 * DAY),
            "due_now": dict(**routed, expires_at=now - timedelta(hours=1)),
            "due_now_cycles_zero": dict(**routed, expires_at=now - timedelta(hours=1), billing_cycles_count=0),
            "not_configured": dict(),
            "not_configured_cycles_zero_soon": dict(billing_cycles_count=0, expires_at=now + 3 * DAY),
            "awaiting_missing": awaiting(),
            "awaiting_rejected": awaiting("rejected"),
            "awaiting_pending": awaiting("pending"),
            "awaiting_pending_cycles_zero_soon": awaiting("pending", billing_cycles_count=0,
                                                          expires_at=now + 3 * DAY),
            "awaiting_pending_at_risk_soon": awaiting("pending", expires_at=now + 5 * DAY),
            "expired": dict(**routed, expired_at=now - DAY, expires_at=now - DAY),
            "cancelled_recently": dict(**routed, cancelled_at=now - DAY),
            "cancelled_window_ending": dict(**routed, cancelled_at=now - 30 * DAY, expires_at=now - 10 * DAY),
            "cancelled_expiring_after_cutoff": dict(**routed, cancelled_at=now - DAY, expires_at=now + 5 * DAY),
            "porting": dict(porting=True, expires_at=None),
            "cycles_zero_soon": dict(**routed, billing_cycles_count=0, expires_at=now + 3 * DAY),
            "cycles_zero_far": dict(**routed, billing_cycles_count=0),
            "at_risk_soon": dict(**routed, billing_cycles_count=3, expires_at=now + 5 * DAY),
            "at_risk_soon_unlimited": dict(**routed, billing_cycles_count=None, expires_at=now + 6 * DAY),
            "at_risk_soon_next_mode": dict(**routed, expires_at=now + 6 * DAY, next_capacity_mode="zero_included",
                                           next_monthly_price_minor=90),
            "at_risk_far": dict(**routed, expires_at=now + 20 * DAY),
            "at_risk_on_the_cutoff": dict(**routed, expires_at=CUTOFF),
        }
        return {name: f.make_number(**kw).id for name, kw in cases.items()}


def _set_cutoff(cutoff) -> Workspace:
    db.session.execute(sa.update(Workspace).values(renewal_risk_cutoff_at=cutoff))
    db.session.commit()
    db.session.expire_all()
    return db.session.scalars(sa.select(Workspace)).one()


def _loaded() -> list[Number]:
    return db.session.scalars(sa.select(Number).options(joinedload(Number.verification_request))).all()


def _ids(*where) -> set[int]:
    return set(db.session.scalars(sa.select(Number.id).where(*where)))


@pytest.mark.parametrize("with_cutoff", [True, False], ids=["cutoff", "no_cutoff"])
def test_needs_attention_check_filter_and_count_agree(app, inventory, with_cutoff):
    with app.app_context():
        ws, now = _set_cutoff(CUTOFF if with_cutoff else None), clock.now()
        names = {number_id: name for name, number_id in inventory.items()}
        numbers = _loaded()
        reasons = {n.id: attention.reason(n, ws, now) for n in numbers}
        assert {names[i]: r for i, r in reasons.items()} == {
            name: expected[0 if with_cutoff else 1] for name, expected in EXPECTED.items()}

        wanted = {i for i, r in reasons.items() if r is not None}
        assert _ids(attention.condition(ws, now)) == wanted
        assert queries.quick_filter_counts(ws, now)["attention"] == len(wanted)
        sql_parts = attention.parts(**attention.bounds(ws, now))
        for part in attention.PARTS:
            in_part = {i for i, r in reasons.items()
                       if r == part or (part == "static" and r in ("not_configured", "registration", "expired"))}
            found = _ids(sql_parts[part]) if part in sql_parts else set()
            assert found == in_part, part


def test_stored_static_part_equals_the_check(app, inventory):
    with app.app_context():
        for n in _loaded():
            request = n.verification_request
            reason = attention.static_reason(n, n.status, request.status if request else None)
            assert n.attention_static == (reason is not None), n.number


@pytest.mark.parametrize("cutoff", [CUTOFF, None], ids=["cutoff", "no_cutoff"])
def test_renewal_checks_and_predicates_agree(app, inventory, cutoff):
    with app.app_context():
        numbers = db.session.scalars(sa.select(Number)).all()
        assert _ids(*renewal.renews_expr()) == {n.id for n in numbers if renewal.renews(n)}
        assert _ids(renewal.at_risk_expr(cutoff)) == {n.id for n in numbers if renewal.at_risk(n, cutoff)}
        assert _ids(renewal.will_not_renew_expr(cutoff)) == {
            n.id for n in numbers if renewal.will_not_renew(n, cutoff)}
        assert _ids(renewal.due_expr(clock.now())) == {
            inventory["due_now"], inventory["due_now_cycles_zero"]}
        assert _ids(renewal.paid_time_over_expr(clock.now())) == {
            n.id for n in numbers if renewal.paid_time_over(n, clock.now())}
        prices = dict(db.session.execute(sa.select(Number.id, renewal.renewal_price_expr())).all())
        assert prices == {n.id: renewal.renewal_price(n) for n in numbers}
        assert prices[inventory["at_risk_soon_next_mode"]] == 90


def test_at_risk_numbers_are_exactly_those_renewing_from_the_cutoff(app, inventory):
    with app.app_context():
        at_risk = {name for name, number_id in inventory.items()
                   if renewal.at_risk(db.session.get(Number, number_id), CUTOFF)}
        assert at_risk == {"at_risk_soon", "at_risk_soon_unlimited", "at_risk_soon_next_mode",
                           "at_risk_far", "at_risk_on_the_cutoff", "active_far", "awaiting_pending",
                           "awaiting_pending_at_risk_soon", "not_configured", "awaiting_missing",
                           "awaiting_rejected"}


def test_a_due_renewal_expires_for_cycles_then_for_balance():
    assert renewal.expiry_reason(0, 100, 1_000) == renewal.CYCLES_ZERO
    assert renewal.expiry_reason(0, 100, 0) == renewal.CYCLES_ZERO
    assert renewal.expiry_reason(None, 100, 99) == renewal.BALANCE
    assert renewal.expiry_reason(2, 100, 100) is None


def test_verification_filter_agrees_with_each_numbers_state(app, inventory):
    """The `verification` filter asks the indexed status for "awaiting" (numbers/queries.py); the
    per-number state reads the flag. Both must put every number in the same state."""
    with app.app_context():
        numbers = _loaded()
        for state in VERIFICATION_STATES:
            assert _ids(queries.verification_condition(state)) == {
                n.id for n in numbers if verification_state(n) == state}, state
