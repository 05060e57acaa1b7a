"""Every schedule in the app (lifecycle.md §11, engineering.md §5), and the ways they run.

- `flask scheduler`: a BlockingScheduler in its own process, under the file lock (production).
- The first served request, when `SCHEDULER` is `on`: a BackgroundScheduler in the one web process
  that takes the file lock (single-host `make run`); see `install()`.
- `flask tick`: every job once, no lock (`run_all_once()`).

Nothing starts at import or in `create_app()`. Every job is idempotent, so a tick beside a running
scheduler, a stray second scheduler or a manual re-run does no harm; the lock only saves work.
"""
import atexit
import fcntl
import logging
import os
import threading
import time
from collections import namedtuple
from pathlib import Path

from werkzeug.serving import is_running_from_reloader

import did_app.batches.engine  # noqa: F401
import did_app.lifecycle.jobs  # noqa: F401  (binds lifecycle.jobs etc. for the table below)
import did_app.notifications.jobs  # noqa: F401
import did_app.numbers.jobs  # noqa: F401
import did_app.registration.jobs  # noqa: F401
import did_app.reminders.jobs  # noqa: F401
from did_app import batches, clock, lifecycle, notifications, numbers, registration, reminders

log = logging.getLogger(__name__)

Job = namedtuple("Job", "name func crontab")

JOBS = (  # UTC crontab
    Job("renewals",              lifecycle.jobs.renew_due_numbers,       "*/5 * * * *"),
    Job("aging",                 lifecycle.jobs.release_aged_numbers,    "*/15 * * * *"),
    Job("restore_window",        lifecycle.jobs.release_unrestored,      "*/15 * * * *"),
    Job("registration_deadline", registration.jobs.remove_overdue,       "*/15 * * * *"),
    Job("reminders",             reminders.jobs.claim_due_reminders,     "*/15 * * * *"),
    Job("deliveries",            notifications.jobs.send_due_deliveries, "* * * * *"),  # digests, webhooks
    Job("housekeeping",          numbers.jobs.purge_expired_rows,        "0 3 * * *"),
)

# a run that starts this late (the process was busy or suspended) is skipped; the next one catches up
MISFIRE_GRACE_SECONDS = 120


def run_job(app, job: Job) -> int:
    """Run one job in its own app context (so its own session); log start, duration and rows touched.

    Exceptions propagate, with their traceback logged by the caller: APScheduler's log, or
    run_all_once().
    """
    log.info("job %s: start", job.name)
    started = time.perf_counter()
    try:
        with app.app_context():
            rows = job.func()
    except Exception as exc:
        log.error("job %s: failed after %.2f s: %s: %s", job.name, time.perf_counter() - started,
                  type(exc).__name__, exc)
        raise
    log.info("job %s: %s rows touched in %.2f s", job.name, rows, time.perf_counter() - started)
    return rows


def register_jobs(scheduler, app, *, run_now: bool = False) -> None:
    """Add every JOBS entry to `scheduler` (not started). With `run_now`, each job also runs once at
    start, so what a stopped scheduler missed is done at once instead of at the next slot."""
    if run_now:
        recover_interrupted_batches(app)
    first = {"next_run_time": clock.SystemClock().now()} if run_now else {}  # APScheduler runs on real time
    # run_job logs each run; APScheduler's own INFO lines ("Running job …") would say it twice
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    from apscheduler.triggers.cron import CronTrigger  # loaded only where jobs are scheduled (memory)

    for job in JOBS:
        scheduler.add_job(run_job, CronTrigger.from_crontab(job.crontab, timezone="UTC"), args=(app, job),
                          id=job.name, name=job.name, replace_existing=True, coalesce=True,
                          max_instances=1, misfire_grace_time=MISFIRE_GRACE_SECONDS, **first)


def recover_interrupted_batches(app) -> None:
    """At every start of the jobs and in every tick: a batch left `applying` by a crashed process
    (no commit for BATCH_STALL_SECONDS) is marked failed (batch.md §5); web workers check too."""
    try:
        with app.app_context():
            batches.engine.recover_interrupted()
    except Exception:
        log.exception("batches: could not check for interrupted applies")


def run_all_once(app) -> dict:
    """Every job once, in table order, each in its own app context (`flask tick`).

    Returns {job name: rows touched, or the exception it raised}; a failing job does not stop the
    others, because each is independent and idempotent.
    """
    recover_interrupted_batches(app)
    results = {}
    for job in JOBS:
        try:
            results[job.name] = run_job(app, job)
        except Exception as exc:
            log.exception("job %s raised", job.name)
            results[job.name] = exc
    return results


def lock_path(app) -> Path:
    """instance/scheduler.lock, unless the SCHEDULER_LOCK setting names another file."""
    return Path(app.config.get("SCHEDULER_LOCK") or Path(app.instance_path) / "scheduler.lock")


def acquire_lock(app):
    """The open, exclusively flock()ed lock file, or None when another process holds it.

    The lock lives as long as the returned handle stays open (the kernel drops it when the process
    dies, however it dies), so callers keep the handle for the life of their scheduler.
    """
    path = lock_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")  # for the "held by" message only; the flock is the lock
    handle.flush()
    return handle


def lock_holder(app) -> str:
    """The pid written by the process that holds the lock, or '?'."""
    try:
        return lock_path(app).read_text().strip() or "?"
    except OSError:
        return "?"


def start_in_process(app):
    """Start the jobs inside this web process, if it is the one that should (engineering.md §5).

    Skips when SCHEDULER is not "on", in the reloader's parent process, and when another process
    holds the lock. Returns the started scheduler, or None.
    """
    if app.config.get("SCHEDULER") != "on":
        return None
    if app.debug and not is_running_from_reloader():
        return None  # the reloader's parent only watches files; its child serves and schedules
    handle = acquire_lock(app)
    if handle is None:
        log.info("scheduler: %s is held by pid %s; not starting jobs here", lock_path(app), lock_holder(app))
        return None
    app.extensions["scheduler_lock"] = handle
    # imported here: web workers that don't hold the lock never load APScheduler
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    register_jobs(scheduler, app, run_now=True)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    atexit.register(_shutdown, scheduler)
    log.info("scheduler: started in process %s", os.getpid())
    return scheduler


def _shutdown(scheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)


def install(app) -> None:
    """Hook the in-process start to the first served request (called once from create_app).

    Costs one flag check per request after the first; the lock makes concurrent first requests in
    a threaded worker decide once.
    """
    state = {"decided": False}
    guard = threading.Lock()

    def _start_scheduler_once():
        if state["decided"]:
            return
        with guard:
            if not state["decided"]:
                state["decided"] = True
                start_in_process(app)

    # first in line: an earlier hook that answers (the login redirect) would otherwise skip it
    app.before_request_funcs.setdefault(None, []).insert(0, _start_scheduler_once)
