"""Renewals (lifecycle.md §5, §10): what the next month costs, whether a due renewal goes ahead,
which numbers renew at all, and which ones the balance won't reach ("renewal at risk").

"At risk" reads the cutoff stored on the workspace (`renewal_risk_cutoff_at`, the first renewal
within the forecast horizon the balance can't pay); lifecycle/forecast.py computes and stores it.
Each rule is a Python check of one loaded number and the SQL predicate over a selection; tests
hold the two in agreement (tests/services/test_rules_agree.py).
"""
from datetime import datetime

import sqlalchemy as sa

from did_app.models import Number

CYCLES_ZERO, BALANCE = "cycles_zero", "balance"
WONT_RENEW_MESSAGES = {
    CYCLES_ZERO: "Won't renew: billing cycles are 0.",
    BALANCE: "The balance won't cover this renewal.",
}


# ---- the price of the next month ----------------------------------------------------------------

def renewal_price(number) -> int:
    """The price of the next month: a pending next capacity mode's price applies."""
    if number.next_capacity_mode is not None and number.next_monthly_price_minor is not None:
        return number.next_monthly_price_minor
    return number.monthly_price_minor


def renewal_price_expr():
    """renewal_price() as SQL."""
    return sa.case((Number.next_capacity_mode.is_not(None),
                    sa.func.coalesce(Number.next_monthly_price_minor, Number.monthly_price_minor)),
                   else_=Number.monthly_price_minor)


# ---- restoring a cancelled number (lifecycle.md §7) ------------------------------------------------

def paid_time_over(number, now: datetime) -> bool:
    """A cancelled number's paid time is over: restoring it charges one month from now."""
    return number.expires_at is None or number.expires_at <= now


def paid_time_over_expr(now: datetime):
    """paid_time_over() as SQL."""
    return sa.or_(Number.expires_at.is_(None), Number.expires_at <= now)


# ---- a due renewal ---------------------------------------------------------------------------

def due_expr(now: datetime):
    """Numbers whose renewal the renewals job takes now: expired by the clock, still live, not porting."""
    # coalesce() is "both null" and keeps SQLite's planner off the expired_at index (nine rows in ten
    # are null there): on it, every chunk read all live numbers and sorted them (20 ms at 100k); on
    # the expires_at index a chunk reads its 500 rows in order
    return sa.and_(Number.expires_at <= now, sa.func.coalesce(Number.expired_at, Number.cancelled_at).is_(None),
                   Number.porting.is_(False))


def expiry_reason(billing_cycles_count: int | None, price: int, balance: int) -> str | None:
    """Why a due renewal does not go ahead (CYCLES_ZERO or BALANCE), or None when it renews."""
    if billing_cycles_count == 0:
        return CYCLES_ZERO
    if price > balance:
        return BALANCE
    return None


# ---- which numbers renew, and which the balance won't reach -------------------------------------

def renews(number) -> bool:
    """Not terminated, not porting, with an expiry, cycles unlimited or at least 1."""
    return (number.expired_at is None and number.cancelled_at is None and not number.porting
            and number.expires_at is not None and number.billing_cycles_count != 0)


def renews_expr() -> tuple:
    """renews() as SQL conditions."""
    # coalesce() is "both null"; it also keeps SQLite's planner (no statistics) off the
    # cancelled_at index, which would visit nine rows in ten one by one
    return (sa.func.coalesce(Number.expired_at, Number.cancelled_at).is_(None), Number.porting.is_(False),
            Number.expires_at.is_not(None),
            sa.or_(Number.billing_cycles_count.is_(None), Number.billing_cycles_count >= 1))


def at_risk(number, cutoff: datetime | None) -> bool:
    """The balance won't reach this renewal: the number renews, at or after the cutoff."""
    return cutoff is not None and renews(number) and number.expires_at >= cutoff


def at_risk_expr(cutoff: datetime | None):
    """at_risk() as SQL."""
    if cutoff is None:
        return sa.false()
    return sa.and_(*renews_expr(), Number.expires_at >= cutoff)


def wont_renew_reason(number, cutoff: datetime | None) -> str | None:
    """CYCLES_ZERO or BALANCE when the number's next renewal won't happen, else None."""
    if number.billing_cycles_count == 0:
        return CYCLES_ZERO
    if at_risk(number, cutoff):
        return BALANCE
    return None


def will_not_renew(number, cutoff: datetime | None) -> bool:
    return wont_renew_reason(number, cutoff) is not None


def will_not_renew_expr(cutoff: datetime | None):
    """will_not_renew() as SQL."""
    return sa.or_(Number.billing_cycles_count == 0, at_risk_expr(cutoff))
