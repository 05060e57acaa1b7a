"""In-app notifications for lifecycle events (lifecycle.md §12): one grouped row per event batch,
its numbers kept as a saved list so the notification links to them. Written in the caller's
transaction, so a notification exists exactly when its cause does."""
import secrets

from did_app import clock
from did_app.models import Notification, SavedList
from did_app.notifications import deliveries

MAX_PAYLOAD_NUMBERS = 1000


def notify(session, kind: str, numbers: list[str], message: str, *, due_on=None,
           offset_days: int | None = None, link: str | None = None) -> Notification | None:
    """One grouped notification with its saved list, and its webhook delivery when that is on.

    A notification about no numbers (the low-balance forecast) passes `link`, the endpoint name it
    links to instead, e.g. "billing.forecast"; without numbers and without a link there is nothing
    to say and nothing is made."""
    if not numbers and link is None:
        return None
    now = clock.now()
    token = None
    if numbers:
        token = secrets.token_urlsafe(16)[:22]
        session.add(SavedList(token=token, items=list(numbers), raw_unrecognised=[], source="notification",
                              created_at=now, last_used_at=now, keep=True))
    payload = {"numbers": list(numbers[:MAX_PAYLOAD_NUMBERS])} if numbers else {}
    if link is not None:
        payload["link"] = link
    note = Notification(kind=kind, created_at=now, due_on=due_on, offset_days=offset_days, count=len(numbers),
                        message=message, list_token=token, payload=payload)
    session.add(note)
    session.flush()
    deliveries.enqueue_webhook(session, note)
    return note


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
