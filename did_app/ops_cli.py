"""Operations commands of interfaces.md: scheduler, tick, backup (the database and its proof files)."""
import signal
import sqlite3
import sys
import tarfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import click

from did_app import clock, scheduler
from did_app.db import db

BACKUP_KEEP = 14  # default number of stamped copies kept in instance/backups


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def parse_at(text: str) -> datetime:
    """`--at` as an aware UTC datetime: ISO 8601, with Z or an offset; no offset means UTC.

    Raises ValueError with a one-line reason.
    """
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--at '{text}' is not an ISO 8601 time, e.g. 2026-12-01T03:00:00Z.") from None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def register(app) -> None:
    @app.cli.command("scheduler")
    def run_scheduler():
        """Run the scheduled jobs in the foreground until stopped (the production way)."""
        handle = scheduler.acquire_lock(app)
        if handle is None:
            _fail(f"Another scheduler is already running (pid {scheduler.lock_holder(app)} holds "
                  f"{scheduler.lock_path(app)}); not starting a second one.")
        from apscheduler.schedulers.blocking import BlockingScheduler

        blocking = BlockingScheduler(timezone="UTC")
        scheduler.register_jobs(blocking, app, run_now=True)

        def stop(signum, frame):
            # shutdown waits for running jobs; do it off the signal handler, which interrupts the main loop
            threading.Thread(target=blocking.shutdown, name="scheduler-shutdown").start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(f"Scheduler running {len(scheduler.JOBS)} jobs (UTC crontab); SIGTERM or Ctrl-C stops it.")
        try:
            blocking.start()  # returns after shutdown
        finally:
            handle.close()
        click.echo("Scheduler stopped.")

    @app.cli.command("tick")
    @click.option("--at", "at_text", metavar="ISO-8601", default=None,
                  help="Pretend the clock reads this UTC time, e.g. 2026-12-01T03:00:00Z.")
    def tick(at_text):
        """Run every scheduled job once and exit (no lock: every job is idempotent)."""
        saved = app.extensions["clock"]
        if at_text is not None:
            try:
                app.extensions["clock"] = clock.FakeClock(parse_at(at_text))
            except ValueError as err:
                _fail(str(err))
        try:
            results = scheduler.run_all_once(app)
        finally:
            app.extensions["clock"] = saved
        for name, rows in results.items():
            if isinstance(rows, Exception):
                click.echo(f"{name}: failed: {type(rows).__name__}: {rows}")
            else:
                click.echo(f"{name}: {rows} rows")
        failed = [name for name, rows in results.items() if isinstance(rows, Exception)]
        if failed:
            _fail(f"tick: {len(failed)} job(s) failed: {', '.join(failed)} (see the log above).")

    @app.cli.command("backup")
    @click.argument("path", required=False, type=click.Path(path_type=Path))
    @click.option("--keep", type=click.IntRange(1, 10_000), default=BACKUP_KEEP, show_default=True,
                  help="Stamped copies to keep in instance/backups (only without PATH).")
    def backup(path, keep):
        """Write a consistent copy of the live SQLite database, checked with integrity_check, and an
        archive of the proof files it references beside it (PATH-proofs.tar.gz)."""
        engine = db.engine
        proofs = Path(app.instance_path) / "proofs"
        if engine.dialect.name != "sqlite":
            _fail(f"The database is {engine.dialect.name}, not SQLite: back it up with pg_dump "
                  '(for example pg_dump -Fc -f did.dump "$DATABASE_URL"), then the proof files with tar '
                  f"(tar -czf did-proofs.tar.gz -C {proofs.parent} proofs).")
        source = engine.url.database
        if not source or source == ":memory:":
            _fail("The database is in memory; there is no file to back up.")
        backups = Path(app.instance_path) / "backups"
        stamped = f"did-{clock.now().strftime('%Y%m%dT%H%M%SZ')}.sqlite3"
        target = (path / stamped if path.is_dir() else path) if path else backups / stamped
        archive = proofs_archive_for(target)
        for existing in (target, archive):
            if existing.exists():
                _fail(f"{existing} already exists; give another path.")
        target.parent.mkdir(parents=True, exist_ok=True)
        problems = copy_sqlite(source, target)
        if problems:
            target.unlink(missing_ok=True)
            _fail(f"The copy failed PRAGMA integrity_check ({problems[0]}); it was deleted.")
        try:  # after the copy: the archive holds exactly the files that copy references
            archived, missing = archive_proofs(target, proofs, archive)
        except OSError as err:
            target.unlink(missing_ok=True)
            _fail(f"The proof files could not be archived ({err}); the database copy was deleted too.")
        if path is None:
            for pattern in ("did-*.sqlite3", "did-*-proofs.tar.gz"):  # stamps sort by time
                for old in sorted(backups.glob(pattern))[:-keep]:
                    old.unlink()
        click.echo(str(target.resolve()))
        click.echo(f"{archive.resolve()} ({archived} proof file{'' if archived == 1 else 's'})")
        if missing:
            click.echo(f"Warning: {len(missing)} proof file(s) the copy references were not found "
                       f"(deleted while the backup ran, or lost before), e.g. {missing[0]}.", err=True)


def proofs_archive_for(copy: Path) -> Path:
    """The proofs archive that belongs to a database copy: did-<stamp>.sqlite3 → did-<stamp>-proofs.tar.gz."""
    return copy.with_name(f"{copy.stem}-proofs.tar.gz")


def archive_proofs(copy: Path, proofs: Path, target: Path) -> tuple[int, list[str]]:
    """Write `target`, a tar.gz of the proof files the database `copy` references, as proofs/<path>
    (so `tar -xzf target -C instance` restores them). Returns (files archived, paths not found).

    One archive rather than a folder: one file per backup to prune, move off the machine and check
    (gzip's CRC), however many small proofs there are. The paths come from the copy, not from a
    walk of the folder, so the pair agrees: a file uploaded after the copy began is left out (its
    row is not in the copy), and an orphan file never gets in. Proof files are written once and
    never changed in place, so reading them while the app runs is safe. The archive appears under
    its name only when complete. With no proofs folder (or none referenced) the archive is empty,
    so a backup is always the same pair.
    """
    con = sqlite3.connect(copy)
    try:
        paths = [row[0] for row in con.execute("SELECT path FROM proof_file ORDER BY path")]
    except sqlite3.OperationalError:  # a database from before proofs existed
        paths = []
    finally:
        con.close()
    base = proofs.resolve()
    partial = target.with_name(target.name + ".part")
    archived, missing = 0, []
    try:
        with tarfile.open(partial, "w:gz") as tar:
            for rel in paths:
                file = (base / rel).resolve()
                try:
                    if not file.is_relative_to(base) or not file.is_file():
                        raise FileNotFoundError(rel)
                    tar.add(file, arcname=f"proofs/{rel}", recursive=False)
                except FileNotFoundError:  # deleted after the copy was taken (or lost before)
                    missing.append(rel)
                    continue
                archived += 1
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return archived, missing


def copy_sqlite(source: str, target: Path) -> list[str]:
    """Copy `source` into `target` with SQLite's online backup API; the problems integrity_check found.

    All pages go in one step, which reads one consistent snapshot: under WAL, writers carry on and the
    copy holds exactly the transactions committed before it began. Never `cp` a live database: recent
    commits sit in the -wal file.
    """
    src = sqlite3.connect(source, timeout=15)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file, no -wal beside it
        rows = [r[0] for r in dst.execute("PRAGMA integrity_check").fetchall()]
    finally:
        dst.close()
        src.close()
    return [] if rows == ["ok"] else rows
