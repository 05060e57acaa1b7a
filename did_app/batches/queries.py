"""Read side of batches: outcome pages, reason groups, the Batches list, the CSV stream, and each
item's changes in words (only the fields that move, by name)."""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from did_app import filters
from did_app.batches.actions import UNDO, action_for
from did_app.batches.actions.base import history_key
from did_app.db import db
from did_app.models import Batch, BatchItem, User

PER_PAGE = 50
OUTCOMES = ("change", "skip", "error")
OUTCOME_LABELS = {"change": "Will change", "skip": "Skipped", "error": "Errors"}
APPLIED_LABELS = {"change": "Changed", "skip": "Skipped", "error": "Errors"}
STATUSES = ("previewed", "applying", "applied", "failed", "undone", "expired")
LABELS = {"voice_route": "Voice route", "sms_route": "SMS route", "capacity_group": "Capacity group",
          "capacity_limit": "Capacity limit", "description": "Description", "capacity_pool": "Pool",
          "dedicated_channels": "Dedicated channels", "next_capacity_mode": "Next capacity mode",
          "next_monthly_price_minor": "Next monthly price", "cancelled_at": "Cancelled",
          "expired_at": "Expired", "expires_at": "Expires", "billing_cycles_count": "Billing cycles"}
# a timestamp as the items store it (JSON text, UTC): shown as the rest of the app shows times
_STORED_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z)?")


def shown(value):
    """An item's stored value for people: timestamps formatted, the rest as stored."""
    if isinstance(value, str) and _STORED_TIME.fullmatch(value):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return filters.fmt_datetime(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
    return value


@dataclass
class Change:
    field: str
    before: object
    after: object


def changes(batch: Batch, item: BatchItem) -> list[Change]:
    """The written fields whose value moves for this item, with names for ids, and whatever else
    the action moves (a renewal's expiry)."""
    action = action_for(batch)
    out = []
    for column in action.writes:
        before, after = (item.before or {}).get(column), (item.after or {}).get(column)
        if before != after:
            key = history_key(column)
            out.append(Change(LABELS.get(key, key), shown((item.before or {}).get(key)),
                              shown((item.after or {}).get(key))))
    if batch.action != UNDO:
        out.extend(Change(label, before, after) for label, before, after in action.moves(batch, item))
    return out


def moved_from(batch: Batch, item: BatchItem) -> str | None:
    """The route a changed number leaves ("moved from {route}"), for route actions."""
    routes = [c for c in action_for(batch).writes if c in ("voice_route_id", "sms_route_id")]
    return next(((item.before or {}).get(history_key(c)) for c in routes
                 if (item.before or {}).get(c) is not None and (item.before or {}).get(c) != (item.after or {}).get(c)),
                None)


def reason_groups(batch_id: int) -> dict[str, list[tuple[str, int]]]:
    """{"skip": [(reason, count), …], "error": […]}, most frequent first."""
    rows = db.session.execute(sa.select(BatchItem.outcome, BatchItem.reason, sa.func.count().label("n")).where(
        BatchItem.batch_id == batch_id, BatchItem.outcome != "change").group_by(BatchItem.outcome, BatchItem.reason)
        .order_by(sa.desc("n"), BatchItem.reason)).all()
    out: dict[str, list] = {"skip": [], "error": []}
    for outcome, reason, count in rows:
        out[outcome].append((reason or "", count))
    return out


def items_page(batch_id: int, outcome: str, page: int) -> tuple[list[BatchItem], bool]:
    rows = db.session.scalars(sa.select(BatchItem).where(BatchItem.batch_id == batch_id, BatchItem.outcome == outcome)
                              .order_by(BatchItem.number).offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    return rows[:PER_PAGE], len(rows) > PER_PAGE


def stream_items(batch_id: int, size: int = 1000):
    """Every item of a batch in number order, read in keyset pages (a CSV of any size)."""
    last = ""
    while True:
        rows = db.session.scalars(sa.select(BatchItem).where(BatchItem.batch_id == batch_id, BatchItem.number > last)
                                  .order_by(BatchItem.number).limit(size)).all()
        yield from rows
        if len(rows) < size:
            return
        last = rows[-1].number
        db.session.expunge_all()


def recent(action: str, status: str, page: int) -> tuple[list, bool]:
    """Batches newest first, with the actor's name, filtered by action and status."""
    stmt = sa.select(Batch, User.display_name).outerjoin(User, User.id == Batch.created_by)
    if action:
        stmt = stmt.where(Batch.action == action)
    if status:
        stmt = stmt.where(Batch.status == status)
    rows = db.session.execute(stmt.order_by(Batch.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    return rows[:PER_PAGE], len(rows) > PER_PAGE


def actor_name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.display_name if user else "the system"


def undo_of(batch: Batch) -> Batch | None:
    """The undo batch of `batch`, if it was undone."""
    if batch.status != "undone":
        return None
    candidates = db.session.scalars(sa.select(Batch).where(Batch.action == UNDO, Batch.id > batch.id)
                                    .order_by(Batch.id)).all()
    return next((b for b in candidates if (b.params or {}).get("undo_of") == batch.id), None)
