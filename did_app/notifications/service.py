"""In-app notifications for lifecycle events and reminders (lifecycle.md §12): one grouped row per
event batch, its numbers kept as a saved list so the notification links to them. Written in the
caller's transaction, so a notification exists exactly when its cause does."""
import secrets
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from did_app import clock
from did_app.models import Notification, SavedList
from did_app.notifications import deliveries

MAX_PAYLOAD_NUMBERS = 1000
_TOKEN_CHARS = 22


@dataclass(frozen=True)
class Draft:
    """One grouped notification to write. A notification about no numbers (the low-balance forecast)
    has `link`, the endpoint name it links to instead, e.g. "billing.forecast"; without numbers and
    without a link there is nothing to say and nothing is written."""
    kind: str
    numbers: list[str]
    message: str
    due_on: date | None = None
    offset_days: int | None = None
    link: str | None = None

    @property
    def says_something(self) -> bool:
        return bool(self.numbers) or self.link is not None

    def payload(self) -> dict:
        payload = {"numbers": list(self.numbers[:MAX_PAYLOAD_NUMBERS])} if self.numbers else {}
        if self.link is not None:
            payload["link"] = self.link
        return payload


def notify_many(session, drafts: list[Draft]) -> list[int | None]:
    """Write the drafts' notifications, their saved lists and their webhook deliveries with one
    statement per table, however many groups a reminders run makes; the new ids, in the drafts'
    order (None for a draft with nothing to say)."""
    written = [d for d in drafts if d.says_something]
    if not written:
        return [None] * len(drafts)
    now = clock.now()
    tokens = [secrets.token_urlsafe(16)[:_TOKEN_CHARS] if d.numbers else None for d in written]
    lists = [dict(token=token, items=list(d.numbers), raw_unrecognised=[], source="notification", created_at=now,
                  last_used_at=now, keep=True) for d, token in zip(written, tokens) if token]
    if lists:
        session.execute(sa.insert(SavedList.__table__), lists)  # Core executemany: bulk work
    rows = [dict(kind=d.kind, created_at=now, due_on=d.due_on, offset_days=d.offset_days, count=len(d.numbers),
                 message=d.message, list_token=token, payload=d.payload()) for d, token in zip(written, tokens)]
    # one INSERT … RETURNING for all rows (insertmanyvalues), ids in the rows' order
    ids = list(session.execute(sa.insert(Notification.__table__)
                               .returning(Notification.id, sort_by_parameter_order=True), rows).scalars())
    deliveries.enqueue_webhooks(session, ids)
    by_draft = iter(ids)
    return [next(by_draft) if d.says_something else None for d in drafts]


def notify(session, kind: str, numbers: list[str], message: str, *, due_on=None,
           offset_days: int | None = None, link: str | None = None) -> Notification | None:
    """One grouped notification with its saved list, and its webhook delivery when that is on (see
    Draft for `link`)."""
    [note_id] = notify_many(session, [Draft(kind, list(numbers), message, due_on, offset_days, link)])
    return None if note_id is None else session.get(Notification, note_id)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
