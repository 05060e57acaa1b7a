"""Running a web import: in the request for small files, in a background thread for large ones
(lifecycle.md §3: files over 5,000 rows show a progress bar). Either way the outcome is stored
(store.py), so the report page, its CSV and a later "run again" work the same."""
import logging
import os
import threading

from did_app.db import db
from did_app.imports import service, store
from did_app.imports.parser import Table

log = logging.getLogger(__name__)
BACKGROUND_ROWS = 5000  # app.config["IMPORT_BACKGROUND_ROWS"] overrides it (tests)


def run(token: str, actor, table: Table, *, filename: str, dry_run: bool, skip_existing: bool,
        progress=None) -> dict:
    """Dry-run or import `table`, store the outcome under `token` and return its summary."""
    if dry_run:
        report = service.check_file(table, filename=filename, skip_existing=skip_existing, progress=progress)
    else:
        report = service.import_file(actor, table, filename=filename, skip_existing=skip_existing,
                                     progress=progress)
    summary = report.summary()
    store.save_report_csv(token, report.csv_text())
    store.write_state(token, {**_base(filename, dry_run, skip_existing, len(table.rows)),
                              "state": "done", "report": summary})
    return summary


def start(app, token: str, actor, table: Table, *, filename: str, dry_run: bool, skip_existing: bool) -> None:
    """Run the import in a daemon thread with its own app context; progress goes to the state file."""
    base = _base(filename, dry_run, skip_existing, len(table.rows))
    store.write_state(token, {**base, "state": "running", "phase": "read", "done": 0, "total": len(table.rows)})

    def work():
        with app.app_context():
            try:
                run(token, actor, table, filename=filename, dry_run=dry_run, skip_existing=skip_existing,
                    progress=store.Progress(token, base))
            except Exception:  # the thread is the last place that can tell the user
                log.exception("import %s failed", token)
                store.write_state(token, {**base, "state": "failed",
                                          "error": "The import failed with an unexpected error. Nothing was written."})
            finally:
                db.session.remove()

    threading.Thread(target=work, name=f"import-{token[:6]}", daemon=True).start()


def _base(filename: str, dry_run: bool, skip_existing: bool, rows: int) -> dict:
    return dict(filename=filename, dry_run=dry_run, skip_existing=skip_existing, rows=rows, pid=os.getpid())
