"""The JOBS table, job registration, the in-process start under the file lock, and housekeeping."""
import logging
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import current_app, has_app_context

from did_app import clock, create_app, scheduler
from did_app.audit import Actor
from did_app.db import db
from did_app.models import (
    AuditEvent,
    Batch,
    BatchItem,
    DigestItem,
    LoginAttempt,
    Notification,
    NotificationRead,
    ReminderClaim,
    SavedList,
    User,
)
from did_app.numbers import housekeeping
from tests.conftest import T0

UTC = timezone.utc

SPEC = [  # engineering.md §5 / lifecycle.md §11
    ("renewals", "did_app.lifecycle.jobs", "renew_due_numbers", "*/5 * * * *"),
    ("aging", "did_app.lifecycle.jobs", "release_aged_numbers", "*/15 * * * *"),
    ("restore_window", "did_app.lifecycle.jobs", "release_unrestored", "*/15 * * * *"),
    ("registration_deadline", "did_app.registration.jobs", "remove_overdue", "*/15 * * * *"),
    ("reminders", "did_app.reminders.jobs", "claim_due_reminders", "*/15 * * * *"),
    ("deliveries", "did_app.notifications.jobs", "send_due_deliveries", "* * * * *"),
    ("housekeeping", "did_app.numbers.jobs", "purge_expired_rows", "0 3 * * *"),
]


# ---- the table and its registration -------------------------------------------------------------

def test_jobs_table_is_the_spec_table():
    got = [(j.name, j.func.__module__, j.func.__name__, j.crontab) for j in scheduler.JOBS]
    assert got == SPEC


def test_register_jobs_lists_exactly_the_table_without_starting(app):
    sched = BackgroundScheduler(timezone="UTC")
    scheduler.register_jobs(sched, app)
    jobs = sched.get_jobs()
    assert not sched.running
    assert [j.id for j in jobs] == [name for name, *_ in SPEC]
    for job in jobs:
        assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "UTC"
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == scheduler.MISFIRE_GRACE_SECONDS


@pytest.mark.parametrize("name, after, expected", [
    ("renewals", datetime(2026, 11, 28, 12, 1, tzinfo=UTC), datetime(2026, 11, 28, 12, 5, tzinfo=UTC)),
    ("aging", datetime(2026, 11, 28, 12, 1, tzinfo=UTC), datetime(2026, 11, 28, 12, 15, tzinfo=UTC)),
    ("deliveries", datetime(2026, 11, 28, 12, 1, 30, tzinfo=UTC), datetime(2026, 11, 28, 12, 2, tzinfo=UTC)),
    ("housekeeping", datetime(2026, 11, 28, 12, 0, tzinfo=UTC), datetime(2026, 11, 29, 3, 0, tzinfo=UTC)),
])
def test_triggers_fire_on_utc_slots(app, name, after, expected):
    sched = BackgroundScheduler(timezone="UTC")
    scheduler.register_jobs(sched, app)
    trigger = sched.get_job(name).trigger
    assert trigger.get_next_fire_time(None, after) == expected


def test_run_now_makes_every_job_due_at_once(app):
    sched = BackgroundScheduler(timezone="UTC")
    scheduler.register_jobs(sched, app, run_now=True)
    sched.start(paused=True)
    try:
        now = clock.SystemClock().now()
        assert all(abs((j.next_run_time - now).total_seconds()) < 5 for j in sched.get_jobs())
    finally:
        sched.shutdown(wait=False)


def test_run_job_uses_its_own_app_context_and_logs(app, caplog):
    seen = {}

    def probe():
        seen["context"] = has_app_context() and current_app._get_current_object() is app
        seen["now"] = clock.now()
        return 3

    caplog.set_level(logging.INFO, logger="did_app.scheduler")
    assert scheduler.run_job(app, scheduler.Job("probe", probe, "* * * * *")) == 3
    assert seen == {"context": True, "now": T0}  # the app's injected clock
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "job probe: start"
    assert messages[1].startswith("job probe: 3 rows touched in ")


def test_run_all_once_runs_the_table_in_order_and_survives_a_failure(app, monkeypatch, caplog):
    order = []

    def job(name, fail=False):
        def run():
            order.append((name, has_app_context()))
            if fail:
                raise RuntimeError("boom")
            return len(order)
        return scheduler.Job(name, run, "* * * * *")

    monkeypatch.setattr(scheduler, "JOBS", (job("a"), job("b", fail=True), job("c")))
    results = scheduler.run_all_once(app)
    assert order == [("a", True), ("b", True), ("c", True)]
    assert results["a"] == 1 and results["c"] == 3
    assert isinstance(results["b"], RuntimeError)
    assert any(r.levelno == logging.ERROR and r.getMessage().startswith("job b: failed after") for r in caplog.records)
    assert any(r.exc_info and r.getMessage() == "job b raised" for r in caplog.records)


# ---- in-process start --------------------------------------------------------------------------------

@pytest.fixture
def on_app(app, tmp_path, monkeypatch):
    """The app with SCHEDULER=on, its own lock file, and a probe job instead of the real ones."""
    ran = threading.Event()

    def probe():
        ran.set()
        return 0

    monkeypatch.setattr(scheduler, "JOBS", (scheduler.Job("probe", probe, "0 3 * * *"),))
    app.config.update(SCHEDULER="on", SCHEDULER_LOCK=str(tmp_path / "scheduler.lock"))
    app.ran = ran
    yield app
    sched = app.extensions.pop("scheduler", None)
    if sched is not None and sched.running:
        sched.shutdown(wait=True)
    handle = app.extensions.pop("scheduler_lock", None)
    if handle is not None:
        handle.close()


def _lock_is_free(app) -> bool:
    handle = scheduler.acquire_lock(app)
    if handle is None:
        return False
    handle.close()
    return True


def test_first_request_starts_the_scheduler_under_the_lock(on_app):
    assert "scheduler" not in on_app.extensions  # nothing at install time
    # an anonymous request that the gatekeeper answers with a redirect still counts
    assert on_app.test_client().get("/numbers").status_code == 302
    sched = on_app.extensions["scheduler"]
    assert sched.running and [j.id for j in sched.get_jobs()] == ["probe"]
    assert on_app.ran.wait(10), "the job did not run at start"
    assert not _lock_is_free(on_app)  # held by this process's handle
    assert scheduler.lock_holder(on_app).isdigit()


def test_the_start_is_decided_once_across_requests(on_app, monkeypatch):
    calls = []
    monkeypatch.setattr(scheduler, "start_in_process", lambda app: calls.append(app))
    client = on_app.test_client()
    for _ in range(3):
        client.get("/healthz")
    assert calls == [on_app]


def test_scheduler_off_starts_nothing(on_app):
    on_app.config["SCHEDULER"] = "off"
    on_app.test_client().get("/healthz")
    assert "scheduler" not in on_app.extensions and "scheduler_lock" not in on_app.extensions
    assert _lock_is_free(on_app)


def test_reloader_parent_starts_nothing(on_app, monkeypatch):
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    on_app.debug = True
    assert scheduler.start_in_process(on_app) is None
    assert _lock_is_free(on_app)
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")  # the reloader's child serves and schedules
    assert scheduler.start_in_process(on_app) is not None


def test_cli_commands_start_nothing(on_app):
    result = on_app.test_cli_runner().invoke(args=["tick"])
    assert result.exit_code == 0, result.output
    assert "scheduler" not in on_app.extensions and _lock_is_free(on_app)


def test_create_app_starts_nothing(tmp_path):
    lock = tmp_path / "scheduler.lock"
    before = {t.name for t in threading.enumerate()}
    create_app({"TESTING": True, "SECRET_KEY": "x", "SCHEDULER": "on", "SCHEDULER_LOCK": str(lock),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert {t.name for t in threading.enumerate()} == before
    assert not lock.exists()


def test_another_process_holding_the_lock_keeps_this_one_out(on_app):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a+'); "
         "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('held', flush=True); sys.stdin.read()",
         on_app.config["SCHEDULER_LOCK"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        on_app.test_client().get("/healthz")
        assert "scheduler" not in on_app.extensions
    finally:
        holder.stdin.close()
        holder.wait(10)
    # the kernel dropped the lock with the process: a replacement can now take over
    assert scheduler.start_in_process(on_app) is not None


# ---- housekeeping -------------------------------------------------------------------------------------

def _users():
    from did_app.auth import service

    active, _ = service.create_user(Actor(None, "cli", "cli"), email="admin1@example.com", display_name="A",
                                    role="admin", password="correct horse battery staple")
    other, _ = service.create_user(Actor(None, "cli", "cli"), email="viewer1@example.com", display_name="B",
                                   role="viewer", password="correct horse battery staple")
    gone, _ = service.create_user(Actor(None, "cli", "cli"), email="viewer2@example.com", display_name="C",
                                  role="viewer", password="correct horse battery staple")
    db.session.execute(sa.update(User).where(User.id == gone.id).values(active=False))
    db.session.commit()
    return active.id, other.id, gone.id


def _seed_housekeeping():
    """One row on each side of every boundary; returns the names of the rows that must go."""
    active, other, gone = _users()
    s = db.session
    day = timedelta(days=1)

    def saved(token, last_used, keep=False):
        s.add(SavedList(token=token, items=["+14155550100"], last_used_at=last_used, created_at=last_used,
                        keep=keep))

    saved("old", T0 - 31 * day)
    saved("recent", T0 - 29 * day)
    saved("kept-alone", T0 - 400 * day, keep=True)
    saved("kept-n1", T0 - 400 * day, keep=True)

    def batch(name, status, age):
        b = Batch(action="assign_voice_route", status=status, created_at=T0 - age, message=name)
        s.add(b)
        s.flush()
        s.add_all([BatchItem(batch_id=b.id, number_id=i, number=f"+1415555{i:04d}", outcome="change")
                   for i in range(3)])
        return b

    batch("preview-old", "previewed", 2 * day)
    batch("expired-old", "expired", 3 * day)
    batch("preview-fresh", "previewed", timedelta(hours=1))
    batch("applied-old", "applied", 10 * day)
    named = batch("preview-named", "previewed", 2 * day)
    s.add(AuditEvent(at=T0, actor_label="x", source="web", action="batch.test", object_type="batch",
                     object_id=named.id, object_label="x", batch_id=named.id))

    s.add_all([LoginAttempt(at=T0 - 31 * day, email="x@example.com", ip="127.0.0.1", result="failure"),
               LoginAttempt(at=T0 - 29 * day, email="y@example.com", ip="127.0.0.1", result="success")])

    def note(name, age, readers, token=None):
        n = Notification(kind="number_released", created_at=T0 - age, message=name, count=1, list_token=token)
        s.add(n)
        s.flush()
        s.add_all([NotificationRead(user_id=u, notification_id=n.id, read_at=T0 - age) for u in readers])
        return n

    n1 = note("read-by-all", 181 * day, [active, other], token="kept-n1")
    note("unread-by-one", 181 * day, [active])
    note("unread-by-inactive-only", 181 * day, [active, other])
    note("young", 179 * day, [active, other, gone])
    s.add(DigestItem(user_id=active, notification_id=n1.id))
    s.add(ReminderClaim(kind="number_released", subject_type="number", subject_id=1, due_on=T0.date(),
                        offset_days=0, state="claimed", notification_id=n1.id))
    s.commit()
    return {"lists": {"old", "kept-n1"}, "batches": {"preview-old", "expired-old"}, "attempts": 1,
            "notifications": {"read-by-all", "unread-by-inactive-only"}}


def _snapshot():
    s = db.session
    return {
        "lists": set(s.scalars(sa.select(SavedList.token))),
        "batches": set(s.scalars(sa.select(Batch.message))),
        "items": s.scalar(sa.select(sa.func.count()).select_from(BatchItem)),
        "attempts": s.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)),
        "notifications": set(s.scalars(sa.select(Notification.message))),
        "reads": s.scalar(sa.select(sa.func.count()).select_from(NotificationRead)),
        "digest": s.scalar(sa.select(sa.func.count()).select_from(DigestItem)),
        "claims": list(s.execute(sa.select(ReminderClaim.id, ReminderClaim.notification_id))),
    }


def test_housekeeping_deletes_exactly_what_is_due_and_a_rerun_nothing(app):
    with app.app_context():
        gone = _seed_housekeeping()
        before = _snapshot()
        deleted = housekeeping.purge_expired_rows()
        db.session.expire_all()
        after = _snapshot()
        assert after["lists"] == before["lists"] - gone["lists"]
        assert after["batches"] == before["batches"] - gone["batches"]
        assert after["items"] == before["items"] - 6  # 3 items each
        assert after["attempts"] == before["attempts"] - 1
        assert after["notifications"] == before["notifications"] - gone["notifications"]
        assert after["reads"] == before["reads"] - 4 and after["digest"] == 0
        assert [c.notification_id for c in after["claims"]] == [None]  # the claim itself stays
        assert deleted == 1 + 6 + 2 + 1 + 2  # lists, items, batches, attempts, notifications (not their rows)
        assert housekeeping.purge_expired_rows() == 0
        db.session.expire_all()
        assert _snapshot() == after


def test_housekeeping_from_two_threads_deletes_each_row_once(app):
    with app.app_context():
        _seed_housekeeping()
        expected = 1 + 6 + 2 + 1 + 2
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                results.append(housekeeping.purge_expired_rows())
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sum(results) == expected
    with app.app_context():
        assert housekeeping.purge_expired_rows() == 0


def test_housekeeping_chunks_large_purges(app, monkeypatch):
    monkeypatch.setattr(housekeeping, "CHUNK", 7)
    with app.app_context():
        db.session.execute(sa.insert(LoginAttempt), [
            dict(at=T0 - timedelta(days=40), email=f"u{i}@example.com", ip="127.0.0.1", result="failure")
            for i in range(30)])
        db.session.commit()
        assert housekeeping.purge_expired_rows() == 30
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 0
