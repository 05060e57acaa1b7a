"""Outside deliveries (lifecycle.md §11–§12): the email digest and the webhook, at least once, each
under a stable id.

Every send follows the same three steps, so a second run or a second process changes nothing twice:
1. the row exists (queued in its cause's transaction, or a digest with its items in one transaction);
2. it is claimed by a conditional UPDATE `pending → sending` (rowcount 1 means ours), committed;
3. it is sent outside any transaction, then marked sent (or retryable) in another transaction.
A process killed between 2 and 3 leaves the row `sending`; after STUCK_AFTER it is claimed again and
sent with the same Message-ID or X-DidApp-Delivery, so a receiver can tell the duplicate.

Digest backlog: a user's digest lists the notifications of the last DIGEST_BACKLOG_DAYS not yet in
any digest to them, so someone who opts in today gets this week's reminders, not the whole history.
"""
import secrets
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from did_app import clock
from did_app.db import db, insert_for, write_transaction
from did_app.errors import DomainError
from did_app.models import Delivery, DigestItem, Notification, SavedList, User, Workspace
from did_app.notifications import digest, links, mailer, webhook
from did_app.workspace import current_workspace

DIGEST_BACKLOG_DAYS = 7
# engineering.md §5: a claimed row still unsent after 30 minutes is retried. A send takes at most
# ~10 s (the webhook timeout), so a row this old means the process died between sending and marking.
STUCK_AFTER = timedelta(minutes=30)
WEBHOOK_RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
                        timedelta(hours=2), timedelta(hours=6))
CLAIM_BATCH = 200  # rows taken per channel per run; the rest wait a minute
MAX_PAYLOAD_NUMBERS = 1000
EMAIL_OFF = "Email is off: SMTP is not configured."


def enqueue_webhooks(session, notification_ids: list[int]) -> None:
    """Queue the webhook delivery of each notification (flushed, so it has an id), in the caller's
    transaction, when the workspace webhook is enabled: one INSERT for all of them."""
    if not notification_ids:
        return
    ws = session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).first()
    if ws is None or not ws.webhook_enabled or not ws.webhook_url:
        return
    now = clock.now()
    session.execute(sa.insert(Delivery.__table__), [  # Core executemany: bulk work
        dict(channel="webhook", notification_id=note_id, status="pending", attempts=0, next_attempt_at=now,
             created_at=now) for note_id in notification_ids])


def send_due() -> int:
    """Send due digests and webhook attempts; the rows touched."""
    ws = current_workspace()
    now = clock.now()
    return send_digests(ws, now) + send_webhooks(ws, now)


# ---- the email digest ----------------------------------------------------------------------------

def send_digests(ws, now: datetime) -> int:
    """Queue the digests that are due, then send every pending (or stuck) one. Nothing without SMTP."""
    if not mailer.configured():
        return 0
    touched = 0
    day_start = digest_day_start(ws, now)
    if day_start is not None:
        for user_id in db.session.scalars(_users_due(now, day_start)).all():
            touched += queue_digest(user_id, now, day_start)
    for row in _claimable(Delivery.channel == "email", _is_digest(), now=now):
        if _claim(row, now):
            _send_digest(row.id, ws)
            touched += 1
    return touched


def digest_day_start(ws, now: datetime) -> datetime | None:
    """The start (UTC) of the workspace's local day when its digest hour has come, else None."""
    zone = ZoneInfo(ws.time_zone)
    local = now.astimezone(zone)
    if local.hour < ws.digest_hour:
        return None
    return datetime.combine(local.date(), time(0), zone).astimezone(timezone.utc)


def _is_digest():
    # a digest has items; a Settings test email has none, so it never counts as today's digest
    return sa.exists().where(DigestItem.delivery_id == Delivery.id)


def _digest_today(user_id, day_start: datetime):
    return sa.exists().where(Delivery.channel == "email", Delivery.user_id == user_id,
                             Delivery.created_at >= day_start, _is_digest())


def _new_for(user_id, now: datetime):
    """The backlog conditions on Notification: recent, and in no digest to `user_id` yet."""
    return (Notification.created_at >= now - timedelta(days=DIGEST_BACKLOG_DAYS), Notification.created_at <= now,
            ~sa.exists().where(DigestItem.user_id == user_id, DigestItem.notification_id == Notification.id))


def _users_due(now: datetime, day_start: datetime):
    """Active opted-in users without a digest today (local) who have something new: one query."""
    return (sa.select(User.id)
            .where(User.active.is_(True), User.digest_opt_in.is_(True), ~_digest_today(User.id, day_start),
                   sa.exists().where(*_new_for(User.id, now)))
            .order_by(User.id))


def queue_digest(user_id: int, now: datetime, day_start: datetime) -> int:
    """Create `user_id`'s digest for today with its items, in one transaction; 1 when made.

    The user row is locked first (PostgreSQL; SQLite's write lock already serialises), so two
    concurrent runs cannot both pass "no digest today". The items' UNIQUE(user_id, notification_id)
    keeps a notification in one digest per user whatever happens."""
    with write_transaction() as session:
        session.execute(sa.select(User.id).where(User.id == user_id).with_for_update())
        if session.scalar(sa.select(_digest_today(user_id, day_start))):
            return 0
        delivery = Delivery(channel="email", user_id=user_id, status="pending", next_attempt_at=now,
                            created_at=now)
        session.add(delivery)
        session.flush()
        delivery.message_id = digest.message_id(delivery.id)
        items = (sa.select(sa.literal(user_id), Notification.id, sa.literal(delivery.id))
                 .where(*_new_for(user_id, now)))
        inserted = session.execute(
            insert_for(DigestItem).from_select(["user_id", "notification_id", "delivery_id"], items)
            .on_conflict_do_nothing()).rowcount
        if not inserted:  # another run took them all meanwhile
            session.delete(delivery)
            return 0
    return 1


def _send_digest(delivery_id: int, ws) -> None:
    delivery = db.session.get(Delivery, delivery_id)
    user = db.session.get(User, delivery.user_id)
    if not (user.active and user.digest_opt_in):
        _finish(delivery_id, status="failed", error="Not sent: the user was deactivated or opted out.")
        return
    notes = db.session.scalars(sa.select(Notification).join(DigestItem, DigestItem.notification_id == Notification.id)
                               .where(DigestItem.delivery_id == delivery_id)
                               .order_by(Notification.created_at, Notification.id)).all()
    message = digest.compose(delivery, user, notes, ws)
    db.session.rollback()  # no transaction stays open while the SMTP server answers
    try:
        mailer.send(message)
    except mailer.SendFailed as exc:
        # the items stay with this delivery, unsent: the next run sends it again
        _finish(delivery_id, status="pending", error=str(exc), retry_at=clock.now())
    else:
        _finish(delivery_id, status="sent")


# ---- the webhook -----------------------------------------------------------------------------------

def send_webhooks(ws, now: datetime) -> int:
    """Send every due webhook attempt; a delivery left when the webhook was turned off fails."""
    if not (ws.webhook_enabled and ws.webhook_url and ws.webhook_secret):
        return _fail_queued_webhooks(now)
    touched = 0
    for row in _claimable(Delivery.channel == "webhook", Delivery.notification_id.is_not(None), now=now):
        if _claim(row, now):
            _send_webhook(row.id, ws)
            touched += 1
    return touched


def _fail_queued_webhooks(now: datetime) -> int:
    queued = (Delivery.channel == "webhook", Delivery.status == "pending", Delivery.next_attempt_at <= now)
    if not db.session.scalar(sa.select(sa.exists().where(*queued))):
        return 0  # the usual case: no write lock taken every minute for nothing
    with write_transaction() as session:
        return session.execute(sa.update(Delivery).where(*queued)
                               .values(status="failed", last_error="Not sent: the webhook was turned off.")).rowcount


def webhook_payload(note) -> dict:
    """The spec's JSON for one notification: at most 1,000 numbers, `count` always the full count."""
    numbers = (note.payload or {}).get("numbers")
    if numbers is None and note.list_token:
        saved = db.session.scalar(sa.select(SavedList.items).where(SavedList.token == note.list_token))
        numbers = saved or []
    return {"id": note.id, "kind": note.kind, "created_at": note.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "due_on": note.due_on.isoformat() if note.due_on else None, "offset_days": note.offset_days,
            "count": note.count, "numbers": list(numbers or [])[:MAX_PAYLOAD_NUMBERS], "message": note.message,
            "url": links.notification_url(note)}


def _send_webhook(delivery_id: int, ws) -> None:
    delivery = db.session.get(Delivery, delivery_id)
    note = db.session.get(Notification, delivery.notification_id)
    payload, attempts = webhook_payload(note), delivery.attempts
    url, secret = ws.webhook_url, ws.webhook_secret
    db.session.rollback()  # no transaction stays open during the POST
    outcome = webhook.post(url, secret, event=note.kind, delivery_id=str(note.id),
                           timestamp=int(clock.now().timestamp()), payload=payload)
    if outcome.ok:
        _finish(delivery_id, status="sent", code=outcome.code)
    elif attempts <= len(WEBHOOK_RETRY_DELAYS):
        _finish(delivery_id, status="pending", code=outcome.code, error=outcome.error,
                retry_at=clock.now() + WEBHOOK_RETRY_DELAYS[attempts - 1])
    else:
        _finish(delivery_id, status="failed", code=outcome.code, error=outcome.error)


# ---- shared steps ------------------------------------------------------------------------------------

def _claimable(*conds, now: datetime) -> list:
    """Due pending rows, and rows stuck in `sending` (their process died), oldest first."""
    due = sa.or_(sa.and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
                 sa.and_(Delivery.status == "sending", Delivery.next_attempt_at <= now - STUCK_AFTER))
    rows = db.session.execute(sa.select(Delivery.id, Delivery.status, Delivery.attempts)
                              .where(due, *conds).order_by(Delivery.next_attempt_at, Delivery.id)
                              .limit(CLAIM_BATCH)).all()
    db.session.rollback()
    return rows


def _claim(row, now: datetime) -> bool:
    """Move the row to `sending` if nobody else did since we read it; True when it is ours to send.
    `next_attempt_at` then holds the claim time, which is how a stuck claim is recognised."""
    with write_transaction() as session:
        return session.execute(
            sa.update(Delivery).where(Delivery.id == row.id, Delivery.status == row.status,
                                      Delivery.attempts == row.attempts)
            .values(status="sending", attempts=Delivery.attempts + 1, next_attempt_at=now)).rowcount == 1


def _finish(delivery_id: int, *, status: str, code: int | None = None, error: str | None = None,
            retry_at: datetime | None = None) -> None:
    now = clock.now()
    values = {"status": status, "response_code": code, "last_error": error}
    if status == "sent":
        values["sent_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    with write_transaction() as session:
        session.execute(sa.update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "sending")
                        .values(**values))


# ---- the Settings page's "Send test" -----------------------------------------------------------------

def send_test_email(user_id: int) -> Delivery:
    """Send a test email to `user_id` now and record it as a delivery: sent, or failed with the reason.

    Raises DomainError when SMTP is not configured."""
    if not mailer.configured():
        raise DomainError(EMAIL_OFF)
    ws, user, now = current_workspace(), db.session.get(User, user_id), clock.now()
    msg_id = f"<test-{secrets.token_hex(8)}@{links.base_host()}>"
    message = digest.compose_test(user, ws, msg_id, now)
    try:
        mailer.send(message)
        error = None
    except mailer.SendFailed as exc:
        error = str(exc)
    return _record_test(channel="email", user_id=user_id, message_id=msg_id, error=error, now=now)


def send_test_webhook() -> Delivery:
    """POST a signed `test` event to the saved webhook URL now (enabled or not, so it can be tried
    before it is switched on) and record the delivery. Raises DomainError without a URL and secret."""
    ws, now = current_workspace(), clock.now()
    if not (ws.webhook_url and ws.webhook_secret):
        raise DomainError("Save a webhook URL and secret first.")
    test_id = f"test-{secrets.token_hex(8)}"
    payload = {"id": test_id, "kind": "test", "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "due_on": None,
               "offset_days": None, "count": 0, "numbers": [],
               "message": f"A test delivery from {ws.name}.", "url": links.absolute_url("auth.settings")}
    url, secret = ws.webhook_url, ws.webhook_secret
    outcome = webhook.post(url, secret, event="test", delivery_id=test_id, timestamp=int(now.timestamp()),
                           payload=payload)
    return _record_test(channel="webhook", message_id=test_id, error=outcome.error, code=outcome.code, now=now)


def _record_test(*, channel: str, now: datetime, error: str | None, message_id: str, user_id: int | None = None,
                 code: int | None = None) -> Delivery:
    # written after the attempt, already final: a test is never retried by the job
    with write_transaction() as session:
        delivery = Delivery(channel=channel, user_id=user_id, status="failed" if error else "sent", attempts=1,
                            message_id=message_id, response_code=code, last_error=error, created_at=now,
                            sent_at=None if error else now)
        session.add(delivery)
    return delivery


def new_secret() -> str:
    """A webhook signing secret: 32 URL-safe characters."""
    return secrets.token_urlsafe(24)


def recent(limit: int = 100) -> list:
    """The last `limit` deliveries of both channels, newest first, with the user's email."""
    return db.session.execute(sa.select(Delivery, User.email).outerjoin(User, User.id == Delivery.user_id)
                              .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)).all()
