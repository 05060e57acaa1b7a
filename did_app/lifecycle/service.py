"""One number's lifecycle actions (lifecycle.md §5 manual renewal, §7, §9 rows 8, 13, 15–17).

Each public function is one use case in one transaction; the details page and (later) the row
menu and batch actions call the same functions. `*_quote` functions are pure reads for dialogs.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from did_app import audit, clock, filters, money
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.lifecycle import forecast, ledger, periods, release
from did_app.models import Number, Workspace
from did_app.object_checks import locked
from did_app.rules import renewal, status

RENEW_MONTHS = (1, 3, 6, 12, 24)


def _workspace(session) -> Workspace:
    return session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).one()


def _number(session, number_id: int, version: int | None, refusal_of=None) -> Number:
    """The number, locked, at the `version` the form was rendered with; refused with the message of
    `refusal_of(number)` when that rule gives one."""
    # locked first (PostgreSQL): every writer takes the number row before the workspace row
    number = locked(session, Number, number_id, version, missing="That number is no longer in the inventory.",
                    stale="This number was changed by someone else. Nothing was done; review and try again.")
    refusal = refusal_of(number) if refusal_of is not None else None
    if refusal:
        raise DomainError(refusal)
    return number


def _apply_next_mode(number: Number) -> dict:
    """Switch to the pending next capacity mode (configuration.md §5.5); the audit changes."""
    if number.next_capacity_mode is None:
        return {}
    before = {"capacity_mode": number.capacity_mode, "monthly_price": number.monthly_price_minor}
    number.capacity_mode = number.next_capacity_mode
    number.channels_included = 2 if number.next_capacity_mode == "two_included" else 0
    if number.next_monthly_price_minor is not None:
        number.monthly_price_minor = number.next_monthly_price_minor
    number.next_capacity_mode = number.next_monthly_price_minor = None
    return {"before": before, "after": {"capacity_mode": number.capacity_mode,
                                        "monthly_price": number.monthly_price_minor}}


def lifecycle_state(number: Number) -> str:
    """The §9 state: PORTING, AWAITING, LIVE, CANCELLED or EXPIRED."""
    if number.porting:
        return "PORTING"
    if number.cancelled_at is not None:
        return "CANCELLED"
    if number.expired_at is not None:
        return "EXPIRED"
    return "AWAITING" if number.awaiting_registration else "LIVE"


# ---- manual renewal --------------------------------------------------------------------------

@dataclass
class RenewQuote:
    months: int
    cost_minor: int
    new_expires_at: datetime
    note: str | None  # "Auto-renew stays off; …" when cycles are 0
    refusal: str | None


def renew_refusal(number: Number) -> str | None:
    if number.cancelled_at is not None:
        return "Restore first."
    if number.porting:
        return "Porting numbers renew after the port completes."
    return None


def renew_quote(number: Number, months: int, ws: Workspace, now: datetime | None = None) -> RenewQuote:
    if months not in RENEW_MONTHS:
        raise DomainError("Choose 1, 3, 6, 12 or 24 months.", "months")
    now = now or clock.now()
    if number.expired_at is not None or number.expires_at is None:
        new = periods.next_expiry(now, months, periods.anchor_day_of(now, ws.time_zone), ws.time_zone)
    else:
        new = periods.next_expiry(number.expires_at, months, number.billing_anchor_day, ws.time_zone)
    note = None
    if number.billing_cycles_count == 0:
        note = f"Auto-renew stays off; the number expires again on {filters.local_date(new, ws)}."
    return RenewQuote(months, months * renewal.renewal_price(number), new, note, renew_refusal(number))


def renew(actor, number_id: int, months: int, *, version: int | None = None) -> RenewQuote:
    """Manual renewal for 1–24 months (§5); charges months × price in one `manual_renewal` row."""
    with write_transaction() as session:
        number = _number(session, number_id, version)
        ws = _workspace(session)
        now = clock.now()
        quote = renew_quote(number, months, ws, now)
        if quote.refusal:
            raise DomainError(quote.refusal)
        before = {"expires_at": _iso(number.expires_at), "expired_at": _iso(number.expired_at)}
        ledger.post(session, "manual_renewal", [ledger.Entry(
            quote.cost_minor, number_id=number.id, number=number.number, detail={"months": months},
            note=f"Renewed for {months} month{'s' if months != 1 else ''}")], actor,
            short_message=_short(ws, quote.cost_minor))
        switch = _apply_next_mode(number)
        if number.expired_at is not None:
            number.billing_anchor_day = periods.anchor_day_of(now, ws.time_zone)
            number.expired_at = None
        number.expires_at = quote.new_expires_at
        _touch(number, actor, now)
        audit.record(actor, "number.renewed", "number", number.id, number.number, before=before,
                     after={"expires_at": _iso(number.expires_at), "months": months,
                            "charged": quote.cost_minor, **switch.get("after", {})},
                     note=f"Manual renewal, {months} month{'s' if months != 1 else ''}")
        _finish(session, number)
        return quote


# ---- cancel and restore ----------------------------------------------------------------------

def cancel_refusal(number: Number) -> str | None:
    if number.porting:
        return "Cancel the port-in request instead."
    if number.cancelled_at is not None or number.expired_at is not None:
        return "Already terminated."
    if number.awaiting_registration:
        return "Use Remove and refund for numbers awaiting registration."
    return None


def release_date_if_cancelled(ws: Workspace, now: datetime | None = None) -> datetime:
    return (now or clock.now()) + timedelta(days=ws.restore_window_days)


def cancel(actor, number_id: int, *, version: int | None = None) -> None:
    """Cancel a live number (§7): traffic stops at once, paid time is kept, renewals stop."""
    with write_transaction() as session:
        number = _number(session, number_id, version, refusal_of=cancel_refusal)
        now = clock.now()
        number.cancelled_at = now
        _touch(number, actor, now)
        audit.record(actor, "number.cancelled", "number", number.id, number.number,
                     before={"status": "live"}, after={"cancelled_at": _iso(now)})
        _finish(session, number)


@dataclass
class RestoreQuote:
    cost_minor: int  # 0 when paid time is left
    new_expires_at: datetime | None  # None when unchanged
    window_ends_at: datetime | None
    refusal: str | None


def restore_quote(number: Number, ws: Workspace, now: datetime | None = None) -> RestoreQuote:
    now = now or clock.now()
    if number.cancelled_at is None:
        return RestoreQuote(0, None, None, "Only cancelled numbers can be restored.")
    ends = number.cancelled_at + timedelta(days=ws.restore_window_days)
    if now >= ends:
        return RestoreQuote(0, None, ends, f"The restore window ended on {filters.local_date(ends, ws)}.")
    if not renewal.paid_time_over(number, now):
        return RestoreQuote(0, None, ends, None)
    new = periods.next_expiry(now, 1, periods.anchor_day_of(now, ws.time_zone), ws.time_zone)
    return RestoreQuote(renewal.renewal_price(number), new, ends, None)


def restore(actor, number_id: int, *, version: int | None = None) -> RestoreQuote:
    """Restore a cancelled number inside the window (§7): free with paid time left, else one month."""
    with write_transaction() as session:
        number = _number(session, number_id, version)
        ws = _workspace(session)
        now = clock.now()
        quote = restore_quote(number, ws, now)
        if quote.refusal:
            raise DomainError(quote.refusal)
        before = {"cancelled_at": _iso(number.cancelled_at), "billing_cycles": number.billing_cycles_count,
                  "expires_at": _iso(number.expires_at)}
        if quote.cost_minor or quote.new_expires_at:
            ledger.post(session, "restore_charge", [ledger.Entry(
                quote.cost_minor, number_id=number.id, number=number.number, note="Restore after paid time")],
                actor, short_message=_short(ws, quote.cost_minor))
            switch = _apply_next_mode(number)
            old_expiry = number.expires_at
            number.expires_at = quote.new_expires_at
            number.billing_anchor_day = periods.anchor_day_of(now, ws.time_zone)
            audit.record(actor, "number.renewed", "number", number.id, number.number,
                         before={"expires_at": _iso(old_expiry)},
                         after={"expires_at": _iso(number.expires_at), "charged": quote.cost_minor,
                                **switch.get("after", {})}, note="Charged at restore")
        number.cancelled_at = None
        number.billing_cycles_count = None
        _touch(number, actor, now)
        audit.record(actor, "number.restored", "number", number.id, number.number, before=before,
                     after={"cancelled_at": None, "billing_cycles": "unlimited",
                            "expires_at": _iso(number.expires_at)})
        _finish(session, number)
        return quote


# ---- remove and refund -----------------------------------------------------------------------

def remove_refusal(number: Number) -> str | None:
    if number.porting:
        return "Cancel the port-in request instead."
    if not number.awaiting_registration:
        return "Only numbers awaiting registration can be removed and refunded."
    return None


def refund_quote(number_id: int) -> int:
    return ledger.net_paid(db.session, [number_id]).get(number_id, 0)


def remove_and_refund(actor, number_id: int, *, version: int | None = None) -> int:
    """Release an awaiting number at once and refund its net paid (§7); returns the refund."""
    with write_transaction() as session:
        number = _number(session, number_id, version, refusal_of=remove_refusal)
        amount = ledger.net_paid(session, [number.id]).get(number.id, 0)
        release.release_numbers(session, actor, [number.id], "removed_unregistered", refund=True,
                                condition=sa.and_(Number.awaiting_registration.is_(True), Number.porting.is_(False)))
        forecast.recompute_cutoff(session)
        return amount


# ---- helpers ---------------------------------------------------------------------------------

def _iso(t: datetime | None) -> str | None:
    return periods.iso_key(t) if t else None


def _short(ws: Workspace, amount: int) -> str:
    return (f"Balance {money.format_money(ws.balance_minor, ws.currency)} is short of "
            f"{money.format_money(amount, ws.currency)}.")


def _touch(number: Number, actor, now: datetime) -> None:
    number.updated_at, number.updated_by = now, actor.user_id


def _finish(session, number: Number) -> None:
    session.flush()
    status.recompute(Number.id == number.id)
    forecast.recompute_cutoff(session)
