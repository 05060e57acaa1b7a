"""Read side of the audit history: filters shared by the Activity page, its CSV and object pages."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from did_app.db import db, keyset_stream
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

    @classmethod
    def from_args(cls, args) -> "ActivityFilter":
        f = cls(**{k: (args.get(k) or "").strip() for k in
                   ("user", "action", "object_type", "object", "date_from", "date_to")})
        page = args.get("page", "1")
        f.page = max(1, int(page)) if page.isdigit() and len(page) < 7 else 1
        for key in ("date_from", "date_to"):
            try:
                date.fromisoformat(getattr(f, key)) if getattr(f, key) else None
            except ValueError:
                setattr(f, key, "")
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
        conds.append(AuditEvent.at >= datetime.combine(date.fromisoformat(f.date_from), time.min, zone))
    if f.date_to:
        end = date.fromisoformat(f.date_to) + timedelta(days=1)
        conds.append(AuditEvent.at < datetime.combine(end, time.min, zone))
    return conds


def page(conds: list, number: int) -> tuple[list[AuditEvent], bool]:
    """One page, newest first; the flag says whether an older page exists."""
    rows = db.session.scalars(sa.select(AuditEvent).where(*conds)
                              .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                              .offset((number - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    return rows[:PER_PAGE], len(rows) > PER_PAGE


def facets() -> dict:
    actions = db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    types = db.session.scalars(sa.select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)).all()
    return {"actions": actions, "object_types": types}


def stream(conds: list, batch: int = 1000):
    """Every matching row, newest first, read in keyset pages."""
    return keyset_stream(AuditEvent, conds, batch)
