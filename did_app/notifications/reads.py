"""Per-user read state of the in-app notifications (lifecycle.md §12 "In-app"). Each use case is
one transaction; a read is a NotificationRead row, inserted with ON CONFLICT DO NOTHING, so marking
twice (two tabs, a double click) changes nothing twice."""
import sqlalchemy as sa

from did_app import clock
from did_app.db import insert_for, write_transaction
from did_app.models import Notification, NotificationRead

KEY = ["user_id", "notification_id"]


def mark_read(user_id: int, notification_id: int) -> bool:
    """Mark one notification read for `user_id`; False when it does not exist."""
    with write_transaction() as session:
        if session.get(Notification, notification_id) is None:
            return False
        session.execute(insert_for(NotificationRead)
                        .values(user_id=user_id, notification_id=notification_id, read_at=clock.now())
                        .on_conflict_do_nothing(index_elements=KEY))
    return True


def mark_all_read(user_id: int) -> int:
    """Mark every notification read for `user_id` in one INSERT … SELECT; returns how many were unread."""
    unread = (sa.select(sa.literal(user_id), Notification.id, sa.literal(clock.now(), NotificationRead.read_at.type))
              .where(~sa.exists().where(NotificationRead.user_id == user_id,
                                        NotificationRead.notification_id == Notification.id)))
    with write_transaction() as session:
        # RETURNING counts the rows on both dialects (rowcount of INSERT … SELECT is -1 on psycopg)
        inserted = session.execute(insert_for(NotificationRead)
                                   .from_select(["user_id", "notification_id", "read_at"], unread)
                                   .on_conflict_do_nothing(index_elements=KEY)
                                   .returning(NotificationRead.notification_id)).all()
        return len(inserted)
