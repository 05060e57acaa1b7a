"""`flask import-numbers FILE [--dry-run]` (interfaces.md): the web import's checks and all-or-nothing
write, for scripts. A dry run lists every row with a message (errors and skips) and then the summary;
an import prints the summary line alone, and up to ten row errors on stderr. The exit status is 1
whenever anything failed: a file error, a row error, a short balance or a refused write."""
import sys
from pathlib import Path

import click

from did_app import money
from did_app.audit import Actor
from did_app.imports import parser, service

SHOWN_ERRORS = 10


def register(app) -> None:
    @app.cli.command("import-numbers")
    @click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
    @click.option("--skip-existing", is_flag=True, help="Skip numbers already in the inventory instead of failing.")
    @click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="Also write the full report (row, number, outcome, message) as CSV to this file.")
    def import_numbers(path, dry_run, skip_existing, report_path):
        """Add numbers from a CSV file in the export format (all or nothing)."""
        try:
            table = parser.read_table(_read(path))
        except parser.FileError as err:
            _fail(f"{path.name}: {err.message}")
        options = dict(filename=path.name, skip_existing=skip_existing)
        if dry_run:
            report = service.check_file(table, **options)
        else:
            report = service.import_file(Actor(None, "cli", "cli"), table, **options)
        if report_path:
            report_path.write_text(report.csv_text(), encoding="utf-8")
        messages = [m for r in report.rows for m in r.messages]
        if dry_run:
            for message in messages:
                click.echo(message)
        else:
            errors = [m for r in report.rows if r.outcome == "error" for m in r.messages]
            for message in errors[:SHOWN_ERRORS]:
                click.echo(message, err=True)
            if len(errors) > SHOWN_ERRORS:
                click.echo(f"… and {len(errors) - SHOWN_ERRORS:,} more (see --dry-run or --report).", err=True)
        click.echo(f"{path.name}: {_summary(report)}")
        if report.refusal or report.count("error") or report.short:
            sys.exit(1)


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > parser.MAX_BYTES:
            raise parser.FileError("The file is larger than 20 MB.")
        return path.read_bytes()
    except OSError as err:
        _fail(f"{path}: {err.strerror or err}.")


def _summary(report: service.Report) -> str:
    fmt = lambda minor: money.format_money(minor, report.currency)  # noqa: E731
    total, balance = report.charge[0], report.balance_minor
    if report.orders:
        return (f"imported {_numbers(report.count('add'))} ({', '.join(report.orders)}); "
                f"{report.count('skip'):,} skipped. Charged {fmt(total)}; balance {fmt(balance - total)}.")
    counts = service.summary_line({k: report.count(k) for k in ("add", "skip", "error")})
    money_text = (f"Balance {fmt(balance)} is short of {fmt(total)}." if report.short
                  else f"Charge {fmt(total)}; balance {fmt(balance)}.")
    if report.dry_run:
        return f"{counts} {money_text} Dry run: nothing written."
    if report.refusal and report.refusal != money_text:
        return f"{counts} {money_text} {report.refusal}"
    return f"{counts} {money_text} Nothing was written."


def _numbers(count: int) -> str:
    return "1 number" if count == 1 else f"{count:,} numbers"


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)
