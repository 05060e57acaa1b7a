"""Needs attention (numbers.md §4.3), defined once, as disjoint parts.

A number needs attention when exactly one of these parts holds (they never overlap):

- `static`: not configured, registration missing or rejected, or expired. It depends on no clock,
  so it is stored in `attention_static` by rules.status.recompute();
- `restore_ends_soon`: cancelled, and the restore window ends within the warning days;
- `cycles_zero_soon`: live, billing cycles 0, and it expires within the warning days;
- `at_risk_soon`: live, renewing, the balance won't reach its renewal, within the warning days.

The filter is the OR of the parts and the quick-filter count is the sum of their counts: because
the parts are disjoint, the two can't drift apart. Each part is a Python check of one number with
its message and a SQL predicate written as ranges of the stored, indexed columns; tests hold them
in agreement (tests/services/test_rules_agree.py).
"""
from datetime import datetime, timedelta

import sqlalchemy as sa

from did_app.models import Number, VerificationRequest
from did_app.rules import renewal

PARTS = ("static", "restore_ends_soon", "cycles_zero_soon", "at_risk_soon")
MESSAGES = {
    "not_configured": "Not configured.",
    "registration": "Registration is missing or was rejected.",
    "expired": "Expired: it is released when the aging pool ends.",
    "restore_ends_soon": "Cancelled: the restore window ends soon.",
    "cycles_zero_soon": renewal.WONT_RENEW_MESSAGES[renewal.CYCLES_ZERO],
    "at_risk_soon": renewal.WONT_RENEW_MESSAGES[renewal.BALANCE],
}
_LIVE = ("active", "awaiting_registration")


# ---- the clock-free part, stored -------------------------------------------------------------------

def static_reason(number, status: str, verification_status: str | None) -> str | None:
    """Why `number` needs attention whatever the time, or None. `status` is its §4.2 status and
    `verification_status` that of its verification request (None without one)."""
    if status == "not_configured":
        return "not_configured"
    if (number.awaiting_registration and not number.porting
            and verification_status in (None, "rejected")):
        return "registration"
    if number.expired_at is not None:
        return "expired"
    return None


def static_expr(status):
    """static_reason() as SQL, over the status expression `status` (stored in the same UPDATE)."""
    rejected = sa.exists().where(VerificationRequest.id == Number.verification_request_id,
                                 VerificationRequest.status == "rejected")
    return sa.or_(
        status == "not_configured",
        sa.and_(Number.awaiting_registration.is_(True), Number.porting.is_(False),
                sa.or_(Number.verification_request_id.is_(None), rejected)),
        Number.expired_at.is_not(None))


# ---- the whole rule ------------------------------------------------------------------------------

def bounds(ws, now: datetime) -> dict:
    """The instants the clock-driven parts compare with: `soon` (the end of the warning days),
    `restore_cutoff` (a cancellation at or before it ends its restore window by `soon`) and `risk`
    (the workspace's renewal-at-risk cutoff, None when the balance covers the horizon)."""
    soon = now + timedelta(days=ws.warn_days)
    return {"soon": soon, "restore_cutoff": soon - timedelta(days=ws.restore_window_days),
            "risk": ws.renewal_risk_cutoff_at}


def reason(number, ws, now: datetime) -> str | None:
    """The key of MESSAGES for why `number` needs attention now, or None. Reads the stored status
    and the verification request, which the caller loads with the number."""
    b = bounds(ws, now)
    request = number.verification_request
    static = static_reason(number, number.status, request.status if request is not None else None)
    if static is not None:
        return static
    if number.status == "terminated" and number.cancelled_at is not None \
            and number.cancelled_at <= b["restore_cutoff"]:
        return "restore_ends_soon"
    live_soon = (number.status in _LIVE and number.expired_at is None and number.cancelled_at is None
                 and number.expires_at is not None and number.expires_at <= b["soon"])
    if live_soon and number.billing_cycles_count == 0:
        return "cycles_zero_soon"
    if live_soon and renewal.at_risk(number, b["risk"]):
        return "at_risk_soon"
    return None


def needs_attention(number, ws, now: datetime) -> bool:
    return reason(number, ws, now) is not None


def parts(soon, restore_cutoff, risk) -> dict:
    """Each part as SQL over the stored columns; the instants may be values or bind parameters.
    Without a renewal-at-risk cutoff (`risk` None) the last part is left out: it holds for nobody."""
    found = {
        "static": Number.attention_static.is_(True),
        # a cancelled number is terminated, so never in the static part
        "restore_ends_soon": sa.and_(Number.cancelled_at <= restore_cutoff, Number.status == "terminated"),
        # expiring soon implies not terminated; porting has no expires_at; not configured is static
        "cycles_zero_soon": sa.and_(Number.expiring_soon.is_(True), Number.attention_static.is_(False),
                                    Number.expires_at <= soon),
    }
    if risk is not None:
        found["at_risk_soon"] = sa.and_(
            Number.expiring_soon.is_(False), Number.attention_static.is_(False),
            Number.expires_at >= risk, Number.expires_at <= soon, Number.status.in_(_LIVE),
            # not expiring soon and not terminated: cycles are null or ≥ 1, so it renews
            Number.expired_at.is_(None), Number.cancelled_at.is_(None))
    return found


def condition(ws, now: datetime):
    """Needs attention as one SQL condition: any part.

    Wrapped in CASE so the planner walks the sort index and stops at a page, instead of merging
    index ranges and sorting a fifth of the table (a "multi-index OR").
    """
    return sa.case((sa.or_(*parts(**bounds(ws, now)).values()), 1), else_=0) == 1


def total(counts) -> int:
    """Numbers needing attention, from the count of each part (a mapping by part name; a part
    that was left out counts 0)."""
    return sum(counts.get(name, 0) for name in PARTS)
