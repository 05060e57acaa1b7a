"""In-app notifications (lifecycle.md §12 "In-app"): every user sees every notification with their
own read state; the unread count behind the bell; mark read and mark all read, set-based and
idempotent."""
import sqlalchemy as sa

from did_app.db import db, write_transaction
from did_app.models import NotificationRead
from did_app.notifications import queries, reads
from did_app.notifications.service import notify
from tests.conftest import login


def _notify(kind="renewal_failed", numbers=("+14155550101", "+14155550102"), message="2 numbers expired."):
    with write_transaction() as session:
        note = notify(session, kind, list(numbers), message)
        return note.id


def _users(app, client):
    admin = login(client, role="admin")
    viewer = login(app.test_client(), role="viewer")
    return admin, viewer


def test_unread_count_is_per_user(app, client):
    admin, viewer = _users(app, client)
    with app.app_context():
        first, _, _ = _notify(), _notify(), _notify()
        assert queries.unread_count(admin) == queries.unread_count(viewer) == 3
        assert reads.mark_read(admin, first) is True
        assert reads.mark_read(admin, first) is True  # twice: still one read row
        assert queries.unread_count(admin) == 2
        assert queries.unread_count(viewer) == 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NotificationRead)) == 1
        assert reads.mark_read(admin, 999_999) is False


def test_mark_all_read_inserts_only_the_unread_and_is_idempotent(app, client):
    admin, viewer = _users(app, client)
    with app.app_context():
        ids = [_notify() for _ in range(4)]
        reads.mark_read(admin, ids[0])
        assert reads.mark_all_read(admin) == 3
        assert reads.mark_all_read(admin) == 0
        assert queries.unread_count(admin) == 0
        assert queries.unread_count(viewer) == 4
        later = _notify()
        assert queries.unread_count(admin) == 1
        rows, total = queries.page(admin, queries.InboxFilter())
        assert total == 5
        assert [r.note.id for r in rows] == [later, *reversed(ids)]  # newest first
        assert [r.read for r in rows] == [False, True, True, True, True]


def test_page_filters_by_kind_and_unread(app, client):
    admin, _ = _users(app, client)
    with app.app_context():
        failed = _notify("renewal_failed")
        released = _notify("number_released", message="2 numbers were released (expired).")
        rows, total = queries.page(admin, queries.InboxFilter(kind="number_released"))
        assert (total, [r.note.id for r in rows]) == (1, [released])
        reads.mark_read(admin, released)
        rows, total = queries.page(admin, queries.InboxFilter(unread=True))
        assert (total, [r.note.id for r in rows]) == (1, [failed])


def test_filter_ignores_unknown_kinds_and_pages():
    f = queries.InboxFilter.from_args({"kind": "bogus", "page": "x" * 50})
    assert (f.kind, f.page, f.ignored) == ("", 1, ("kind", "page"))
    f = queries.InboxFilter.from_args({"kind": "proof_expiring", "page": "3", "unread": "1"})
    assert (f.kind, f.page, f.unread) == ("proof_expiring", 3, True)
    assert f.args() == {"kind": "proof_expiring", "unread": "1", "page": 3}


def test_the_unread_count_reads_only_indexes(app, client):
    """B1: the header's count runs on every page; neither table may be read row by row."""
    admin, _ = _users(app, client)
    with app.app_context():
        _notify()
        reads.mark_all_read(admin)
        _notify()
        assert queries.unread_count(admin) == 1
        if db.engine.dialect.name != "sqlite":
            return
        total = sa.select(sa.func.count()).select_from(queries.Notification).scalar_subquery()
        read = (sa.select(sa.func.count()).select_from(NotificationRead)
                .where(NotificationRead.user_id == admin).scalar_subquery())
        compiled = sa.select(total - read).compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = [str(r[-1]) for r in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))]
        assert any("notification_read USING COVERING INDEX" in p for p in plan), plan
        assert any("SCAN notification USING COVERING INDEX" in p for p in plan), plan
