"""Renewal forecast and the stored cutoff (lifecycle.md §10): which renewals count, in what order,
and that the set-based cutoff equals the plain walk over every occurrence."""
import random
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from did_app.db import db, write_transaction
from did_app.lifecycle import forecast, periods
from did_app.models import Number, Workspace
from did_app.numbers import display
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import T0

UTC = timezone.utc


@pytest.fixture
def ws(app):
    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
        yield


def _settings(**values) -> None:
    db.session.execute(sa.update(Workspace).values(**values))
    db.session.commit()


def _recompute():
    with write_transaction() as session:
        forecast.recompute_cutoff(session)
    db.session.expire_all()
    return db.session.scalar(sa.select(Workspace.renewal_risk_cutoff_at))


def _number(at: datetime, price: int = 100, tz: str = "UTC", **kw) -> Number:
    """A live number renewing at `at`, with the anchor day the app would have given it."""
    kw.setdefault("billing_anchor_day", periods.anchor_day_of(at, tz))
    return f.make_number(expires_at=at, monthly_price_minor=price, **kw)


def _pool(total: int, price: int, renew_date: date, **kw):
    pool = f.make_pool(total=total, renew_date=renew_date, **kw)
    pool.monthly_price_minor = price
    db.session.commit()
    return pool


def _walk_cutoff(horizon: int):
    """The spec's definition, literally: the first occurrence whose cumulative cost exceeds the balance."""
    for o in forecast.occurrences(db.session, horizon):
        if not o.covered:
            return o.at
    return None


def test_cutoff_is_none_when_the_balance_covers_the_horizon(ws):
    _number(T0 + timedelta(days=2), 300)
    _number(T0 + timedelta(days=9), 200)
    _number(T0 + timedelta(days=45), 10_000)  # beyond the 30-day horizon
    _settings(balance_minor=500)
    assert _recompute() is None


def test_cutoff_is_the_first_renewal_the_balance_cannot_pay(ws):
    first, second = T0 + timedelta(days=2), T0 + timedelta(days=9)
    _number(first, 300)
    _number(second, 200)
    _settings(balance_minor=499)
    assert _recompute() == second
    _settings(balance_minor=299)
    assert _recompute() == first


def test_a_number_renewing_twice_within_the_horizon_counts_twice(ws):
    # anchor 29: Nov 29 and again Dec 29, both within 35 days of Nov 28
    twice = datetime(2026, 11, 29, 12, tzinfo=UTC)
    once = datetime(2026, 12, 10, 12, tzinfo=UTC)
    _number(twice, 100)
    _number(once, 100)
    _settings(balance_minor=250, forecast_horizon_days=35)
    assert _recompute() == datetime(2026, 12, 29, 12, tzinfo=UTC)
    assert [o.at for o in forecast.occurrences(db.session, 35)] == [twice, once, datetime(2026, 12, 29, 12, tzinfo=UTC)]


def test_billing_cycles_limit_the_occurrences(ws):
    _number(datetime(2026, 11, 29, 12, tzinfo=UTC), 100, billing_cycles_count=1)
    _number(datetime(2026, 12, 10, 12, tzinfo=UTC), 100)
    _settings(balance_minor=250, forecast_horizon_days=35)
    assert _recompute() is None
    assert len(forecast.occurrences(db.session, 35)) == 2


def test_terminated_porting_and_cycles_zero_numbers_do_not_renew(ws):
    soon = T0 + timedelta(days=3)
    _number(soon, 100, cancelled_at=T0 - timedelta(days=1))
    _number(soon, 100, expired_at=T0 - timedelta(days=1))
    _number(soon, 100, billing_cycles_count=0)
    f.make_number(expires_at=None, porting=True, monthly_price_minor=100)
    _settings(balance_minor=0)
    assert _recompute() is None
    assert forecast.occurrences(db.session, 30) == []


def test_a_pending_mode_renews_at_its_next_price(ws):
    soon = T0 + timedelta(days=3)
    _number(soon, 100, next_capacity_mode="zero_included", next_monthly_price_minor=60)
    _settings(balance_minor=60)
    assert _recompute() is None
    (o,) = forecast.occurrences(db.session, 30)
    assert o.amount_minor == 60
    _settings(balance_minor=59)
    assert _recompute() == soon


def test_overdue_renewals_come_first(ws):
    overdue = T0 - timedelta(hours=2)  # the renewals job has not run yet
    _number(overdue, 100)
    _number(T0 + timedelta(days=1), 100)
    _settings(balance_minor=100)
    assert _recompute() == T0 + timedelta(days=1)
    assert forecast.occurrences(db.session, 30)[0].at == overdue


def test_pools_renew_at_local_midnight_before_numbers_of_the_same_instant(ws):
    pool = _pool(10, 10, date(2026, 12, 5))  # 100 a month
    midnight = datetime(2026, 12, 5, tzinfo=UTC)
    number = _number(midnight, 100)
    _settings(balance_minor=100)
    occurrences = forecast.occurrences(db.session, 30)
    assert [(o.kind, o.id, o.covered) for o in occurrences] == [("pool", pool.id, True), ("number", number.id, False)]
    assert occurrences[0].label == pool.name and occurrences[0].amount_minor == 100
    assert _recompute() == midnight


def test_pool_renewals_repeat_monthly_and_follow_the_time_zone(ws):
    pool = _pool(2, 50, date(2026, 12, 1))
    _settings(time_zone="America/New_York", balance_minor=250)
    occurrences = forecast.occurrences(db.session, 70)
    assert [o.at for o in occurrences] == [datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2027, 1, 1, 5, tzinfo=UTC),
                                           datetime(2027, 2, 1, 5, tzinfo=UTC)]
    assert {o.id for o in occurrences} == {pool.id}
    _settings(forecast_horizon_days=70)
    assert _recompute() == datetime(2027, 2, 1, 5, tzinfo=UTC)


def test_a_pool_with_a_failed_renewal_is_still_due(ws):
    _pool(1, 500, date(2026, 11, 20), renewal_failed_on=date(2026, 11, 20))
    _settings(balance_minor=100)
    assert _recompute() == datetime(2026, 11, 20, tzinfo=UTC)


def test_renewal_at_risk_reads_the_stored_cutoff(ws):
    paid = _number(T0 + timedelta(days=2), 300)
    short = _number(T0 + timedelta(days=9), 300)
    later = _number(T0 + timedelta(days=60), 300)
    _settings(balance_minor=400)
    _recompute()
    workspace = db.session.scalars(sa.select(Workspace)).one()
    assert [display.renewal_at_risk(n, workspace) for n in (paid, short, later)] == [False, True, True]


def test_month_arithmetic_matches_next_expiry(ws):
    rng = random.Random(7)
    for tz in ("UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney"):
        rows = []
        for i in range(300):
            t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 400))
            rows.append((i, "x", t, rng.choice([periods.anchor_day_of(t, tz), 28, 29, 30, 31]), None, 1))
        end = datetime(2028, 6, 1, tzinfo=UTC)
        items = forecast._month_items(rows, tz, end, 0)
        expected = [(periods.next_expiry(t, k, anchor, tz) if k else t, i)
                    for i, _, t, anchor, _, _ in rows for k in range(0, 40)
                    if (periods.next_expiry(t, k, anchor, tz) if k else t) < end]
        assert sorted((at, i) for at, _, i, _, _ in items) == sorted(expected), tz


def _assert_outlook_matches_the_walk(tz: str, balance: int, horizon: int) -> None:
    """The page's figures (day sums, the shortfall and what it leaves unpaid) against the walk."""
    walk = forecast.occurrences(db.session, horizon, T0)
    o = forecast.outlook(db.session, tz, balance, horizon, T0)
    unpaid = [w for w in walk if not w.covered]
    assert o.shortfall_at == (unpaid[0].at if unpaid else None)
    assert (o.short_count, o.short_total) == (len(unpaid), sum(w.amount_minor for w in unpaid))
    by_day = {}
    for w in walk:
        day = o.horizon.key(w.at)
        by_day[day] = [by_day.get(day, [0, 0])[0] + 1, by_day.get(day, [0, 0])[1] + w.amount_minor]
    assert {d: v for d, v in o.horizon.days.items() if v != [0, 0]} == by_day


@pytest.mark.parametrize("tz,horizon", [("UTC", 30), ("Europe/Berlin", 30), ("America/New_York", 90), ("UTC", 7)])
def test_cutoff_equals_the_plain_walk_over_every_occurrence(ws, tz, horizon):
    """Many numbers around month ends, ties on one instant, cycles, pending prices and pools: the
    set-based cutoff must pick the same occurrence as walking the sorted list."""
    rng = random.Random(horizon)
    _settings(time_zone=tz, forecast_horizon_days=horizon)
    tie = T0 + timedelta(days=4, hours=3)
    rows = []
    for i in range(400):
        at = tie if i % 25 == 0 else T0 + timedelta(minutes=rng.randrange(-60 * 24 * 40, 60 * 24 * (horizon + 5)))
        anchor = periods.anchor_day_of(at, tz) if rng.random() < 0.8 else rng.randint(1, 31)
        pending = rng.random() < 0.1
        rows.append(dict(number=f"+1415{i:07d}", country="US", number_type="local", capacity_mode="two_included",
                         features=1, expires_at=at, billing_anchor_day=anchor,
                         billing_cycles_count=rng.choice([None, None, None, 0, 1, 2, 5]),
                         monthly_price_minor=rng.choice([0, 100, 150, 300, 1250]),
                         next_capacity_mode="zero_included" if pending else None,
                         next_monthly_price_minor=rng.choice([50, 90]) if pending else None,
                         cancelled_at=T0 - timedelta(days=1) if rng.random() < 0.05 else None))
    db.session.execute(sa.insert(Number), rows)
    db.session.commit()
    _pool(20, 40, (T0 + timedelta(days=6)).date())
    _pool(5, 100, (T0 - timedelta(days=3)).date())
    total = sum(o.amount_minor for o in forecast.occurrences(db.session, horizon))
    assert total > 0
    for fraction in (0, 0.01, 0.2, 0.5, 0.77, 0.93, 0.999, 1, 1.5):
        _settings(balance_minor=int(total * fraction))
        assert _recompute() == _walk_cutoff(horizon), fraction
        _assert_outlook_matches_the_walk(tz, int(total * fraction), horizon)
    # a number of the tie renews at the cutoff: the balance runs out in the middle of the tie
    tied = [o for o in forecast.occurrences(db.session, horizon) if o.at == tie]
    _settings(balance_minor=tied[0].cumulative_minor)
    assert _recompute() == tie == _walk_cutoff(horizon)
