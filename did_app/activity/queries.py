"""Read side of the audit history: filters shared by the Activity page, its CSV and object pages."""
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from did_app import parsing
from did_app.db import db, keyset_stream, newest_first_page
from did_app.models import AuditEvent

PER_PAGE = 50


@dataclass
class ActivityFilter:
    user: str = ""         # actor email (or "scheduler"/"cli") contains
    action: str = ""       # exact action, or a prefix ending in "." ("number.")
    object_type: str = ""
    object: str = ""       # object label contains (a number, a trunk name)
    date_from: str = ""
    date_to: str = ""
    page: int = 1
    notes: list[str] = field(default_factory=list)  # "Ignored unknown filter value: …"

    @classmethod
    def from_args(cls, args) -> "ActivityFilter":
        q = parsing.QueryArgs(args)
        f = cls(**{k: q.text(k) for k in ("user", "action", "object_type", "object")}, page=q.page())
        for key in ("date_from", "date_to"):
            day = q.day(key)
            setattr(f, key, day.isoformat() if day else "")
        f.notes = q.notes()
        return f

    def args(self, **overrides) -> dict:
        data = {k: getattr(self, k) for k in ("user", "action", "object_type", "object", "date_from", "date_to")}
        data.update(overrides)
        return {k: v for k, v in data.items() if v}


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def conditions(f: ActivityFilter, tz: str) -> list:
    conds = []
    if f.user:
        conds.append(AuditEvent.actor_label.ilike(_like(f.user), escape="\\"))
    if f.action:
        conds.append(AuditEvent.action.like(_like(f.action)[1:], escape="\\") if f.action.endswith(".")
                     else AuditEvent.action == f.action)
    if f.object_type:
        conds.append(AuditEvent.object_type == f.object_type)
    if f.object:
        conds.append(AuditEvent.object_label.ilike(_like(f.object), escape="\\"))
    zone = ZoneInfo(tz)
    if f.date_from:
        conds.append(AuditEvent.at >= datetime.combine(parsing.query_date(f.date_from), time.min, zone))
    if f.date_to:
        end = parsing.query_date(f.date_to) + timedelta(days=1)  # the date window leaves room for it
        conds.append(AuditEvent.at < datetime.combine(end, time.min, zone))
    return conds


def page(conds: list, number: int) -> tuple[list[AuditEvent], bool]:
    """One page, newest first; the flag says whether an older page exists."""
    return newest_first_page(AuditEvent, conds, number, PER_PAGE)


def facets() -> dict:
    actions = db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    types = db.session.scalars(sa.select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)).all()
    return {"actions": actions, "object_types": types}


def stream(conds: list, batch: int = 1000):
    """Every matching row, newest first, read in keyset pages."""
    return keyset_stream(AuditEvent, conds, batch)
