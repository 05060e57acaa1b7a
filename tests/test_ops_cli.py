"""`flask scheduler`, `flask tick [--at]` and `flask backup [PATH]` (interfaces.md)."""
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from did_app import clock, create_app, scheduler
from did_app.db import db, write_transaction
from did_app.models import LoginAttempt, Proof, ProofFile, ProofType
from did_app.registration import proof_store
from tests.conftest import ON_PG, T0
from tests.factories import make_identity

ROOT = Path(__file__).resolve().parent.parent
UTC = timezone.utc


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def _workspace(app):
    from did_app.workspace import ensure_workspace

    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()


# ---- tick --------------------------------------------------------------------------------------------

def test_tick_runs_every_job_once_and_prints_a_line_each(app, monkeypatch):
    calls = []

    def job(name, rows):
        def run():
            calls.append(name)
            return rows
        return scheduler.Job(name, run, "* * * * *")

    monkeypatch.setattr(scheduler, "JOBS", (job("renewals", 12), job("aging", 0), job("housekeeping", 3)))
    result = _invoke(app, "tick")
    assert result.exit_code == 0, result.output
    assert calls == ["renewals", "aging", "housekeeping"]
    assert result.output.splitlines() == ["renewals: 12 rows", "aging: 0 rows", "housekeeping: 3 rows"]


def test_tick_runs_the_real_table(app):
    _workspace(app)
    result = _invoke(app, "tick")
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines()] == [j.name for j in scheduler.JOBS]


@pytest.mark.parametrize("text, expected", [
    ("2027-01-15T03:00:00Z", datetime(2027, 1, 15, 3, 0, tzinfo=UTC)),
    ("2027-01-15T05:00:00+02:00", datetime(2027, 1, 15, 3, 0, tzinfo=UTC)),
    ("2027-01-15T03:00", datetime(2027, 1, 15, 3, 0, tzinfo=UTC)),  # no offset: UTC
    ("2027-01-15", datetime(2027, 1, 15, 0, 0, tzinfo=UTC)),
])
def test_tick_at_pretends_the_clock_reads_that_utc_time(app, monkeypatch, text, expected):
    seen = []
    monkeypatch.setattr(scheduler, "JOBS", (scheduler.Job("probe", lambda: seen.append(clock.now()) or 0,
                                                          "* * * * *"),))
    installed = app.extensions["clock"]
    result = _invoke(app, "tick", "--at", text)
    assert result.exit_code == 0, result.output
    assert seen == [expected] and seen[0].tzinfo is not None
    assert app.extensions["clock"] is installed  # restored after the command
    _invoke(app, "tick")
    assert seen[1] == T0


def test_tick_at_drives_the_jobs(app):
    """End to end through a real job: a login attempt purged only once it is 30 days old."""
    _workspace(app)
    with app.app_context():
        db.session.add(LoginAttempt(at=T0, email="x@example.com", ip="127.0.0.1", result="failure"))
        db.session.commit()
    count = sa.select(sa.func.count()).select_from(LoginAttempt)
    assert _invoke(app, "tick", "--at", (T0 + timedelta(days=29)).isoformat()).exit_code == 0
    with app.app_context():
        assert db.session.scalar(count) == 1
    result = _invoke(app, "tick", "--at", (T0 + timedelta(days=31)).isoformat())
    assert "housekeeping: 1 rows" in result.output.splitlines()
    with app.app_context():
        assert db.session.scalar(count) == 0


@pytest.mark.parametrize("text", ["yesterday", "2027-13-01T00:00:00Z", ""])
def test_tick_refuses_a_bad_at_with_one_line(app, monkeypatch, text):
    ran = []
    monkeypatch.setattr(scheduler, "JOBS", (scheduler.Job("probe", lambda: ran.append(1) or 0, "* * * * *"),))
    result = _invoke(app, "tick", "--at", text)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and "is not an ISO 8601 time" in result.output
    assert ran == []


def test_tick_reports_a_failing_job_runs_the_rest_and_exits_non_zero(app, monkeypatch):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scheduler, "JOBS", (scheduler.Job("a", broken, "* * * * *"),
                                            scheduler.Job("b", lambda: 4, "* * * * *")))
    result = _invoke(app, "tick")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "a: failed: RuntimeError: disk on fire"
    assert lines[1] == "b: 4 rows"
    assert lines[-1].startswith("tick: 1 job(s) failed: a")


# ---- scheduler --------------------------------------------------------------------------------------

def _app_spec(app, lock: Path) -> str:
    config = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "test-secret",
              "SCHEDULER": "off", "SCHEDULER_LOCK": str(lock)}
    return f"did_app:create_app({config!r})"


def _readline(proc, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def test_scheduler_refuses_a_second_instance_and_stops_cleanly_on_sigterm(app, tmp_path):
    lock = tmp_path / "scheduler.lock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", _app_spec(app, lock), "scheduler"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = _readline(proc, 30)
        assert first.startswith("Scheduler running 7 jobs"), first
        app.config["SCHEDULER_LOCK"] = str(lock)
        second = _invoke(app, "scheduler")
        assert second.exit_code == 1
        assert second.output.strip() == (f"Another scheduler is already running (pid {proc.pid} holds {lock}); "
                                         "not starting a second one.")
        time.sleep(0.5)  # let the start-up run of the jobs begin, so SIGTERM meets a busy scheduler
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert proc.stdout.read().strip().splitlines()[-1] == "Scheduler stopped."
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    handle = scheduler.acquire_lock(app)  # released with the process
    assert handle is not None
    handle.close()


# ---- backup -----------------------------------------------------------------------------------------

sqlite_only = pytest.mark.skipif(ON_PG, reason="the online backup copies SQLite files")


def _db_file(app) -> str:
    with app.app_context():
        return db.engine.url.database


def _add_attempts(app, n: int) -> None:
    with app.app_context():
        db.session.execute(sa.insert(LoginAttempt), [
            dict(at=T0, email=f"user{i}@example.com", ip="127.0.0.1", result="failure") for i in range(n)])
        db.session.commit()


@sqlite_only
def test_backup_writes_a_checked_copy_to_path(app, tmp_path):
    _add_attempts(app, 25)
    app.instance_path = str(tmp_path / "instance")  # no proofs folder: the archive is empty
    target = tmp_path / "copies" / "did.sqlite3"
    result = _invoke(app, "backup", str(target))
    assert result.exit_code == 0, result.output
    archive = tmp_path / "copies" / "did-proofs.tar.gz"
    assert result.output.splitlines() == [str(target.resolve()), f"{archive.resolve()} (0 proof files)"]
    with tarfile.open(archive) as tar:
        assert tar.getnames() == []
    con = sqlite3.connect(target)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
    assert con.execute("SELECT count(*) FROM login_attempt").fetchone() == (25,)
    con.close()
    again = _invoke(app, "backup", str(target))
    assert again.exit_code == 1 and "already exists" in again.output
    target.unlink()  # the archive beside it alone also stops a second backup to that path
    again = _invoke(app, "backup", str(target))
    assert again.exit_code == 1 and f"{archive} already exists" in again.output and not target.exists()


@sqlite_only
def test_backup_default_is_stamped_in_instance_backups_and_keeps_the_last_n(app, tmp_path, clock):
    app.instance_path = str(tmp_path / "instance")
    made = []
    for _ in range(3):
        result = _invoke(app, "backup", "--keep", "2")
        assert result.exit_code == 0, result.output
        made.append([Path(line.split(" (")[0]) for line in result.output.splitlines()])
        clock.advance(hours=1)
    assert [p.name for p in made[0]] == ["did-20261128T120000Z.sqlite3", "did-20261128T120000Z-proofs.tar.gz"]
    assert made[0][0].parent == tmp_path / "instance" / "backups"
    # pruning removes the old database copies and their proofs archives alike
    assert sorted((tmp_path / "instance" / "backups").iterdir()) == sorted(made[1] + made[2])
    into_dir = _invoke(app, "backup", str(tmp_path))
    assert [Path(line.split(" (")[0]) for line in into_dir.output.splitlines()] == [
        tmp_path / "did-20261128T150000Z.sqlite3", tmp_path / "did-20261128T150000Z-proofs.tar.gz"]


def _proof_files(app, count: int) -> dict[str, bytes]:
    """`count` proof files written through proof_store with their rows; their contents by path."""
    written = {}
    with app.app_context():
        identity_id = make_identity().id
        passport = db.session.scalar(sa.select(ProofType.id).where(ProofType.name == "Passport"))
        with write_transaction() as session:
            proof = Proof(identity_id=identity_id, proof_type_id=passport)
            session.add(proof)
            session.flush()
            for i in range(count):
                data = b"%PDF-1.4\n" + f"proof {i}".encode() * (i + 1)
                rel = proof_store.write(session, data, "pdf")
                session.add(ProofFile(proof_id=proof.id, path=rel, original_name=f"p{i}.pdf",
                                      content_type="application/pdf", size_bytes=len(data)))
                written[rel] = data
        db.session.remove()
    return written


@sqlite_only
def test_backup_archives_every_proof_file_the_copy_references(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    written = _proof_files(app, 4)
    proofs = tmp_path / "instance" / "proofs"
    (proofs / "stray.pdf").write_bytes(b"%PDF-1.4 no row")  # an orphan: not backed up
    result = _invoke(app, "backup", str(tmp_path / "copy.sqlite3"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].endswith("copy-proofs.tar.gz (4 proof files)")
    with tarfile.open(tmp_path / "copy-proofs.tar.gz") as tar:
        assert sorted(tar.getnames()) == sorted(f"proofs/{rel}" for rel in written)
        # restoring as the README says: unpacked into the instance folder, the paths are the rows' paths
        restored = tmp_path / "restored"
        tar.extractall(restored)
    for rel, data in written.items():
        assert (restored / "proofs" / rel).read_bytes() == data


@sqlite_only
def test_backup_warns_of_a_referenced_proof_file_that_is_gone(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    gone = next(iter(_proof_files(app, 2)))
    (tmp_path / "instance" / "proofs" / gone).unlink()
    result = _invoke(app, "backup", str(tmp_path / "copy.sqlite3"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].endswith("(1 proof file)")
    assert "1 proof file(s) the copy references were not found" in result.stderr and gone in result.stderr


@sqlite_only
def test_backup_while_writes_run_holds_every_row_committed_before_it(app, tmp_path):
    """R6: a writer thread commits rows throughout; the copy is sound and misses none from before."""
    _add_attempts(app, 20_000)  # a few MB, so the copy takes a while
    source = _db_file(app)
    stop = threading.Event()
    committed = []  # highest id committed so far, after each commit

    def writer():
        con = sqlite3.connect(source, timeout=15, isolation_level=None)
        try:
            while not stop.is_set():
                con.execute("BEGIN IMMEDIATE")
                cur = con.execute("INSERT INTO login_attempt (at, email, ip, result) VALUES "
                                  "('2026-11-28 12:00:00', 'w@example.com', '127.0.0.1', 'success')")
                con.execute("COMMIT")
                committed.append(cur.lastrowid)
        finally:
            con.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(committed) < 50:
            time.sleep(0.01)
        before = committed[-1]
        target = tmp_path / "during.sqlite3"
        result = _invoke(app, "backup", str(target))
        during = len(committed)
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
    assert result.exit_code == 0, result.output
    assert len(committed) > during  # the writer kept going after the copy
    con = sqlite3.connect(target)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    ids = [r[0] for r in con.execute("SELECT id FROM login_attempt ORDER BY id")]
    con.close()
    assert ids[-1] >= before
    assert ids == list(range(1, ids[-1] + 1))  # a consistent snapshot: a prefix, no gaps


def test_backup_on_postgresql_points_to_pg_dump(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SCHEDULER": "off",
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://did:did@127.0.0.1:1/none"})
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.sqlite3")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("The database is postgresql, not SQLite: back it up with pg_dump")
    assert "then the proof files with tar (tar -czf did-proofs.tar.gz -C " in result.output
    assert not (tmp_path / "x.sqlite3").exists()
