"""The balance and its ledger (lifecycle.md §6).

Every debit is the conditional update `balance = balance − x WHERE balance ≥ x` in the caller's
transaction, followed by its ledger rows; zero rows updated means the balance is short and the
caller's transaction must roll back (BalanceShort is a DomainError, so write_transaction() does).
Rows are never edited or deleted.
"""
from dataclasses import dataclass

import sqlalchemy as sa

from did_app import clock, money
from did_app.errors import DomainError
from did_app.models import LedgerEntry, Workspace


class BalanceShort(DomainError):
    """The balance does not cover a debit; nothing may be written."""

    def __init__(self, balance_minor: int, amount_minor: int, currency: str, message: str | None = None):
        self.balance_minor, self.amount_minor = balance_minor, amount_minor
        text = message or (f"Balance {money.format_money(balance_minor, currency)} is short of "
                           f"{money.format_money(amount_minor, currency)}.")
        super().__init__(text)


@dataclass
class Entry:
    """One ledger row to write; `amount_minor` is positive, the sign comes from the kind."""
    amount_minor: int
    number_id: int | None = None
    number: str | None = None
    pool_id: int | None = None
    order_id: int | None = None
    batch_id: int | None = None
    note: str | None = None
    detail: dict | None = None
    idempotency_key: str | None = None


CREDIT_KINDS = {"top_up", "refund"}  # adjustment carries its own sign


def _workspace(session) -> Workspace:
    return session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).one()


def balance(session) -> int:
    return session.scalar(sa.select(Workspace.balance_minor).order_by(Workspace.id).limit(1)) or 0


def _apply(session, delta: int) -> int | None:
    """Add `delta` to the balance unless it would go negative; the new balance, or None."""
    stmt = sa.update(Workspace).values(balance_minor=Workspace.balance_minor + delta)
    if delta < 0:
        stmt = stmt.where(Workspace.balance_minor >= -delta)
    new = session.execute(stmt.returning(Workspace.balance_minor)
                          .execution_options(synchronize_session=False)).scalar()
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Workspace):
            session.expire(obj, ["balance_minor"])
    return new


def post(session, kind: str, entries: list[Entry], actor, *, signed: bool = False,
         short_message: str | None = None) -> list[dict]:
    """Write `entries` of one kind and move the balance by their sum, in one conditional update.

    Debit kinds subtract, credit kinds add; with `signed=True` (adjustments) each amount keeps its
    own sign. Entries of 0 write no row. Raises BalanceShort when a debit is not covered.
    Returns the inserted rows (as dicts, with `balance_after_minor`).
    """
    entries = [e for e in entries if e.amount_minor != 0]
    if not entries:
        return []
    sign = 1 if (signed or kind in CREDIT_KINDS) else -1
    total = sum(sign * e.amount_minor for e in entries)
    new_balance = _apply(session, total)
    if new_balance is None:
        ws = _workspace(session)
        raise BalanceShort(ws.balance_minor, -total, ws.currency, short_message)
    running = new_balance - total
    now = clock.now()
    rows = []
    for e in entries:
        running += sign * e.amount_minor
        rows.append(dict(
            at=now, kind=kind, amount_minor=sign * e.amount_minor, balance_after_minor=running,
            number_id=e.number_id, number=e.number, pool_id=e.pool_id, order_id=e.order_id,
            batch_id=e.batch_id, actor_id=actor.user_id, actor_label=actor.label, note=e.note,
            detail=e.detail, idempotency_key=e.idempotency_key))
    session.execute(sa.insert(LedgerEntry.__table__), rows)  # Core executemany: bulk work
    return rows


def net_paid(session, number_ids) -> dict[int, int]:
    """{number id: its charges minus its refunds, never below 0} (the refund amount, §6)."""
    ids = list(number_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(LedgerEntry.number_id, sa.func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.number_id.in_(ids),
               LedgerEntry.kind.in_(("add_charge", "renewal", "manual_renewal", "restore_charge", "refund")))
        .group_by(LedgerEntry.number_id)).all()
    return {number_id: max(0, -(total or 0)) for number_id, total in rows}
