"""Audit rows, written in the caller's transaction (access.md §6)."""
import sqlalchemy as sa
from flask import g, has_request_context, request
from flask_login import current_user

from did_app import clock
from did_app.db import db
from did_app.models import AuditEvent

SECRET_FIELDS = {"password", "auth_password", "password_hash", "webhook_secret", "secret"}
# name/value lists whose values hold tokens (HTTP-in SMS trunks): names stay, values are "changed"
SECRET_PAIR_FIELDS = {"headers", "query_parameters"}


class Actor:
    """Who acts: a user on the web, the scheduler, or the CLI."""

    def __init__(self, user=None, source: str = "web", label: str | None = None):
        self.user_id = user.id if user is not None else None
        self.label = label or (user.email if user is not None else source)
        self.source = source

    @classmethod
    def current(cls) -> "Actor":
        if has_request_context() and current_user.is_authenticated:
            return cls(current_user, "web")
        return cls(None, "cli", "cli")


SCHEDULER = Actor(None, "scheduler", "scheduler")


def _clean(values: dict | None) -> dict | None:
    if values is None:
        return None
    return {k: ("changed" if k in SECRET_FIELDS else _masked_pairs(v) if k in SECRET_PAIR_FIELDS else v)
            for k, v in values.items()}


def _masked_pairs(pairs):
    if not isinstance(pairs, list):
        return pairs
    return [{**p, "value": "changed"} if isinstance(p, dict) and p.get("value") not in (None, "") else p
            for p in pairs]


def shown(values: dict | None) -> dict | None:
    """A stored before/after as it may be shown or exported: secrets as "changed", also in rows
    written before a field was known to be secret. Idempotent."""
    return _clean(values) if values else values


class Shown:
    """An audit row for a page: the row's own attributes, with `before` and `after` through shown()."""

    __slots__ = ("_event", "before", "after")

    def __init__(self, event: AuditEvent):
        self._event, self.before, self.after = event, shown(event.before), shown(event.after)

    def __getattr__(self, name):
        return getattr(self._event, name)


def for_display(events) -> list:
    return [Shown(e) for e in events]


def _ip() -> str | None:
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:64] or None


def _request_id() -> str | None:
    # errors.py accepts only short ids; the cut keeps any other writer of g.request_id from
    # failing the write on PostgreSQL (the column holds 32)
    if not has_request_context():
        return None
    return (getattr(g, "request_id", None) or "")[:32] or None


def record(actor: Actor, action: str, object_type: str, object_id, object_label: str, *,
           before: dict | None = None, after: dict | None = None, note: str | None = None,
           batch_id: int | None = None) -> AuditEvent:
    """Add one audit row to the current transaction; secrets are written as "changed"."""
    event = AuditEvent(
        at=clock.now(), actor_id=actor.user_id, actor_label=actor.label, source=actor.source,
        action=action, object_type=object_type, object_id=object_id, object_label=object_label[:255],
        before=_clean(before), after=_clean(after), note=note, batch_id=batch_id,
        ip=_ip(), request_id=_request_id())
    db.session.add(event)
    return event


def record_many(actor: Actor, events: list[dict], *, batch_id: int | None = None) -> None:
    """Insert many audit rows in one statement (bulk work); each dict holds action, object_type,
    object_id, object_label and optionally before, after, note."""
    if not events:
        return
    now = clock.now()
    ip, request_id = _ip(), _request_id()
    rows = [dict(at=now, actor_id=actor.user_id, actor_label=actor.label, source=actor.source,
                 action=e["action"], object_type=e["object_type"], object_id=e.get("object_id"),
                 object_label=e["object_label"][:255], before=_clean(e.get("before")),
                 after=_clean(e.get("after")), note=e.get("note"), batch_id=batch_id, ip=ip,
                 request_id=request_id) for e in events]
    db.session.execute(sa.insert(AuditEvent.__table__), rows)  # Core executemany: bulk work


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the changed fields, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
