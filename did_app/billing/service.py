"""Balance use cases (lifecycle.md §6): top-ups and adjustments, each one transaction with its
ledger row, its audit row and the recomputed renewal-risk cutoff."""
import sqlalchemy as sa

from did_app import audit, money
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.lifecycle import forecast, ledger
from did_app.models import Workspace

MAX_MAJOR = 1_000_000
NOTE_MAX = 500


def _workspace(session) -> Workspace:
    return session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1).with_for_update()).one()


def _bounds(currency: str) -> tuple[int, int, str, str]:
    """Smallest and largest amount in minor units, and both as text ("0.01", "1,000,000.00")."""
    digits = money.exponent(currency)
    low, high = 1, MAX_MAJOR * 10 ** digits
    return low, high, f"{money.to_major(low, currency)}", f"{money.to_major(high, currency):,}"


def _note(note: str | None, *, required: bool) -> str | None:
    note = (note or "").strip() or None
    if required and note is None:
        raise DomainError("Enter a note saying why the balance is adjusted.", "note")
    if note is not None and len(note) > NOTE_MAX:
        raise DomainError(f"Notes can be at most {NOTE_MAX} characters.", "note")
    return note


def _record(session, actor, action: str, ws: Workspace, before: int, row: dict, note: str | None) -> None:
    cur = ws.currency
    audit.record(actor, action, "workspace", ws.id, "Balance",
                 before={"balance": money.plain(before, cur)},
                 after={"balance": money.plain(row["balance_after_minor"], cur),
                        "amount": money.plain(row["amount_minor"], cur)}, note=note)


def top_up(actor, amount_minor: int, note: str | None = None) -> dict:
    """An admin adds money: 0.01–1,000,000.00 in major units, optional note (≤ 500).

    Writes one `top_up` ledger row, a `balance.top_up` audit row and the new cutoff. Returns the
    ledger row (a dict with `balance_after_minor`). Raises DomainError on `amount` or `note`.
    """
    with write_transaction() as session:
        ws = _workspace(session)
        low, high, low_text, high_text = _bounds(ws.currency)
        if not low <= amount_minor <= high:
            raise DomainError(f"Enter an amount from {low_text} to {high_text}.", "amount")
        note = _note(note, required=False)
        before = ws.balance_minor
        (row,) = ledger.post(session, "top_up", [ledger.Entry(amount_minor, note=note)], actor)
        _record(session, actor, "balance.top_up", ws, before, row, note)
        forecast.recompute_cutoff(session)
        return row


def adjust(actor, amount_minor: int, note: str | None) -> dict:
    """An admin corrects the balance by a signed amount (not 0, at most 1,000,000.00 either way),
    with a required note; refused when the balance would go negative.

    Writes one `adjustment` ledger row, a `balance.adjusted` audit row and the new cutoff.
    Returns the ledger row. Raises DomainError on `amount` or `note`.
    """
    with write_transaction() as session:
        ws = _workspace(session)
        _, high, _, high_text = _bounds(ws.currency)
        if amount_minor == 0 or abs(amount_minor) > high:
            raise DomainError(f"Enter an amount other than 0, from -{high_text} to {high_text}.", "amount")
        note = _note(note, required=True)
        before = ws.balance_minor
        short = (f"The balance is {money.format_money(before, ws.currency)}: an adjustment of "
                 f"{money.format_money(amount_minor, ws.currency)} would make it negative.")
        try:
            (row,) = ledger.post(session, "adjustment", [ledger.Entry(amount_minor, note=note)], actor,
                                 signed=True)
        except ledger.BalanceShort:
            raise DomainError(short, "amount") from None
        _record(session, actor, "balance.adjusted", ws, before, row, note)
        forecast.recompute_cutoff(session)
        return row
