"""Housekeeping (lifecycle.md §11): purge expired rows by predicate; the daily job calls it.

Each purge deletes in chunks of 500 rows, one transaction per chunk, so web writes never wait long;
a predicate re-read at every chunk makes a second run (or a concurrent one) delete nothing more.
"""
import time
from datetime import timedelta

import sqlalchemy as sa

from did_app import clock
from did_app.db import write_transaction
from did_app.models import (
    AuditEvent,
    Batch,
    BatchItem,
    Delivery,
    DigestItem,
    LedgerEntry,
    LoginAttempt,
    Notification,
    NotificationRead,
    ReminderClaim,
    SavedList,
    User,
    UserSession,
)
from did_app.numbers.service import LIST_TTL

CHUNK = 500
# SQLite's busy handler polls: a process that commits and at once begins again starves every waiter
# (web requests included) until its busy timeout; a short pause between chunks lets them in
PAUSE_BETWEEN_CHUNKS = 0.02
# a preview expires after 30 minutes (batch.md §2); it is purged a day later, so a tab left open
# overnight still answers "This preview has expired" rather than a 404
PREVIEW_PURGE_AFTER = timedelta(days=1)
LOGIN_ATTEMPTS_KEPT = timedelta(days=30)
SESSIONS_KEPT = timedelta(days=30)  # after the session ended: logged out, signed out or expired
READ_NOTIFICATIONS_KEPT = timedelta(days=180)


def purge_expired_rows() -> int:
    """Delete expired saved lists, expired batch previews (and their items), login attempts older than
    30 days, sessions ended more than 30 days ago and notifications older than 180 days that every
    active user has read. Returns rows deleted."""
    now = clock.now()
    return (_purge(SavedList, _expired_lists(now))
            + _purge(BatchItem, BatchItem.batch_id.in_(sa.select(Batch.id).where(_expired_previews(now))))
            + _purge(Batch, _expired_previews(now))
            + _purge(LoginAttempt, LoginAttempt.at < now - LOGIN_ATTEMPTS_KEPT)
            + _purge(UserSession, sa.or_(UserSession.revoked_at < now - SESSIONS_KEPT,
                                         UserSession.expires_at < now - SESSIONS_KEPT))
            + _purge(Notification, _old_read_notifications(now), before_delete=_detach_notifications))


def _expired_lists(now):
    # lists kept for a notification (keep) go with the notification, below
    return sa.and_(SavedList.keep.is_(False), SavedList.last_used_at < now - LIST_TTL)


def _expired_previews(now):
    return sa.and_(
        Batch.status.in_(("previewed", "expired")), Batch.created_at < now - PREVIEW_PURGE_AFTER,
        # history or money that names the batch keeps it (a preview should have none)
        ~sa.exists().where(AuditEvent.batch_id == Batch.id),
        ~sa.exists().where(LedgerEntry.batch_id == Batch.id))


def _old_read_notifications(now):
    read_it = sa.exists().where(NotificationRead.user_id == User.id,
                                NotificationRead.notification_id == Notification.id).correlate(User, Notification)
    unread_by_someone = sa.exists().where(User.active.is_(True), ~read_it).correlate(Notification)
    return sa.and_(Notification.created_at < now - READ_NOTIFICATIONS_KEPT, ~unread_by_someone)


def _detach_notifications(session, ids) -> None:
    """Rows hanging off the notifications about to go: read marks, digest items, the kept number list,
    and the links from reminder claims and deliveries."""
    tokens = sa.select(Notification.list_token).where(Notification.id.in_(ids), Notification.list_token.is_not(None))
    session.execute(sa.delete(SavedList).where(SavedList.keep.is_(True), SavedList.token.in_(tokens)))
    session.execute(sa.delete(NotificationRead).where(NotificationRead.notification_id.in_(ids)))
    session.execute(sa.delete(DigestItem).where(DigestItem.notification_id.in_(ids)))
    # reminder claims and deliveries stay: a claim must never be made twice
    for model in (ReminderClaim, Delivery):
        session.execute(sa.update(model).where(model.notification_id.in_(ids)).values(notification_id=None)
                        .execution_options(synchronize_session=False))


def _purge(model, predicate, before_delete=None) -> int:
    """Delete the rows of `model` matching `predicate`, CHUNK at a time; returns rows deleted."""
    deleted = 0
    while True:
        with write_transaction() as session:
            ids = session.scalars(sa.select(model.id).where(predicate).order_by(model.id).limit(CHUNK)).all()
            if ids:
                if before_delete is not None:
                    before_delete(session, ids)
                deleted += session.execute(sa.delete(model).where(model.id.in_(ids))
                                           .execution_options(synchronize_session=False)).rowcount
        if len(ids) < CHUNK:
            return deleted
        time.sleep(PAUSE_BETWEEN_CHUNKS)
