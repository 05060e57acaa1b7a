"""`flask import-numbers FILE [--dry-run]`: one summary line, row errors on stderr, exit status."""
import sqlalchemy as sa

from did_app.db import db
from did_app.models import Number
from did_app.workspace import ensure_workspace

GOOD = "number,monthly_price\n+14155550101,1.00\n+14155550102,1.00\n"


def _run(app, tmp_path, text, *args):
    path = tmp_path / "numbers.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return app.test_cli_runner().invoke(args=["import-numbers", str(path), *args])


def _setup(app, balance=1000):
    with app.app_context():
        ensure_workspace(db.session).balance_minor = balance
        db.session.commit()


def _numbers(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Number.id)))


def test_dry_run_reports_and_writes_nothing(app, tmp_path):
    _setup(app)
    result = _run(app, tmp_path, GOOD + "+14155550101,1\n", "--dry-run")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "Row 4: same number as row 2.",
        "numbers.csv: 2 to add, 0 skipped, 1 with errors. Charge $2.00; balance $10.00. Dry run: nothing written."]
    clean = _run(app, tmp_path, GOOD, "--dry-run")
    assert clean.exit_code == 0 and clean.stdout.count("\n") == 1 and _numbers(app) == 0


def test_import_prints_one_line_and_writes(app, tmp_path):
    _setup(app)
    result = _run(app, tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert result.stdout == ("numbers.csv: imported 2 numbers (ORD-000001); 0 skipped. "
                             "Charged $2.00; balance $8.00.\n")
    assert _numbers(app) == 2


def test_row_errors_go_to_stderr_and_exit_non_zero(app, tmp_path):
    _setup(app)
    rows = "".join(f"bad{i},1\n" for i in range(12))
    result = _run(app, tmp_path, GOOD + rows)
    assert result.exit_code == 1 and _numbers(app) == 0
    errors = result.stderr.splitlines()
    assert errors[0] == "Row 4: 'bad0' is not a valid phone number." and len(errors) == 11
    assert errors[-1] == "… and 2 more (see --dry-run or --report)."
    assert result.stdout.splitlines() == [
        "numbers.csv: 2 to add, 0 skipped, 12 with errors. Charge $2.00; balance $10.00. "
        "Fix the 12 rows with errors; nothing was imported."]


def test_short_balance_fails(app, tmp_path):
    _setup(app, balance=100)
    result = _run(app, tmp_path, GOOD)
    assert result.exit_code == 1 and _numbers(app) == 0
    assert result.stdout.strip().endswith("0 with errors. Balance $1.00 is short of $2.00. Nothing was written.")


def test_file_error_is_one_line(app, tmp_path):
    result = _run(app, tmp_path, b"number,monthly_price\n\xff\n")
    assert result.exit_code == 1
    assert result.stderr == "numbers.csv: The file is not valid UTF-8 (first bad byte at line 2).\n"


def test_skip_existing_and_report_file(app, tmp_path):
    _setup(app)
    _run(app, tmp_path, GOOD)
    report = tmp_path / "report.csv"
    result = _run(app, tmp_path, GOOD + "+14155550103,1\n", "--skip-existing", "--report", str(report))
    assert result.exit_code == 0 and "imported 1 number (ORD-000002); 2 skipped." in result.stdout
    assert report.read_text().splitlines()[1] == "2,+14155550101,skip,Row 2: +14155550101 is already in the inventory."
