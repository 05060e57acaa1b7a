"""What the paid batch actions share (batch.md §2–§4): the balance check at preview and confirm,
the exact-cost re-check, reading the change items with their numbers, and the bookkeeping after
an apply (items' version_after, status, the renewal-risk cutoff)."""
from datetime import datetime

import sqlalchemy as sa

from did_app import money
from did_app.batches.actions.base import Action, change_items
from did_app.batches.sql import differs
from did_app.db import db
from did_app.lifecycle import forecast, ledger, periods
from did_app.models import Batch, BatchItem, Number, Workspace
from did_app.rules import status
from did_app.workspace import current_workspace

UNDO = "undo"  # actions/__init__.py's name for an undo batch (importing it here would be circular)


def workspace() -> Workspace:
    """The settings row as the database holds it now (the balance moves), else the defaults."""
    return db.session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).first() or current_workspace()


def short_message(total_minor: int) -> str | None:
    """"Balance {b} is short of {total}." when the balance does not cover `total_minor`."""
    ws = workspace()
    if total_minor <= ws.balance_minor:
        return None
    return (f"Balance {money.format_money(ws.balance_minor, ws.currency)} is short of "
            f"{money.format_money(total_minor, ws.currency)}.")


def changes_of(batch_id: int):
    """The change items this apply writes: all of them, or the current chunk of a chunked apply
    (so a chunk never charges or refunds another chunk's numbers)."""
    return change_items(batch_id)


def is_undo(batch_id: int) -> bool:
    return db.session.scalar(sa.select(Batch.action).where(Batch.id == batch_id)) == UNDO


def change_rows(batch_id: int, *columns):
    """The change items with their numbers' `columns`, in number order, the numbers locked
    (PostgreSQL; SQLite's write lock is held already) so the job can't renew them meanwhile."""
    return db.session.execute(
        sa.select(BatchItem.number_id, BatchItem.number, BatchItem.cost_minor, *columns)
        .join(Number, Number.id == BatchItem.number_id).where(changes_of(batch_id))
        .order_by(BatchItem.number).with_for_update(of=Number)).all()


def iso(t: datetime | None) -> str | None:
    return periods.iso_key(t) if t else None


def next_mode(row) -> dict:
    """The pending capacity mode taking effect at a charge (lifecycle/service.py's switch): the
    new column values and the history's `after` part."""
    if row.next_capacity_mode is None:
        return {}
    price = row.next_monthly_price_minor if row.next_monthly_price_minor is not None else row.monthly_price_minor
    return {"capacity_mode": row.next_capacity_mode,
            "channels_included": 2 if row.next_capacity_mode == "two_included" else 0,
            "monthly_price_minor": price, "next_capacity_mode": None, "next_monthly_price_minor": None}


def finish(batch_id: int) -> None:
    """After the numbers are written: status, each item's version_after, the cutoff."""
    mine = changes_of(batch_id)
    status.recompute(Number.id.in_(sa.select(BatchItem.number_id).where(mine)))
    db.session.execute(sa.update(BatchItem).where(mine).values(version_after=sa.select(Number.version).where(
        Number.id == BatchItem.number_id).scalar_subquery()).execution_options(synchronize_session=False))
    forecast.recompute_cutoff(db.session)


class PaidAction(Action):
    """An action that charges or refunds: never undone once money moved (batch.md §4), a short
    balance is a batch error at preview and refused at confirm, and confirm charges exactly the
    previewed cost of each item (an item whose cost moved is stale)."""
    paid = True
    undoable = False

    def balance_error(self, total_cost: int) -> str | None:
        return short_message(total_cost)

    def confirmation_for(self, batch) -> str:
        return self.confirmation(batch.change_count, batch.params, batch.total_cost_minor)

    def stale_condition(self, params: dict):
        cost = self.plan(params).cost
        return sa.or_(super().stale_condition(params), differs(cost, BatchItem.cost_minor))

    def post(self, kind: str, entries: list, actor) -> None:
        # BalanceShort ("Balance {b} is short of {total}.") rolls the whole confirm back
        ledger.post(db.session, kind, entries, actor)

    def balance_after(self, total_cost: int) -> int:
        return workspace().balance_minor - total_cost

    def money(self, amount_minor: int) -> str:
        return money.format_money(amount_minor, workspace().currency)
