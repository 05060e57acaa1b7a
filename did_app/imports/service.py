"""CSV import use cases (lifecycle.md §3): a dry run that reports, and an all-or-nothing import.

The rows are checked outside the write lock (parsing 100,000 rows takes seconds, and SQLite would
hold every other writer for that long); the write transaction then re-reads the small reference
tables and refuses if routes, groups or pools changed in between. A number added meanwhile is caught
by the creation service ("… was added by someone else meanwhile").
"""
from dataclasses import dataclass, field

import sqlalchemy as sa

from did_app import audit, clock, csv_out, money
from did_app.db import chunked, db, write_transaction
from did_app.errors import DomainError
from did_app.imports import parser
from did_app.imports.parser import Group, Lookups, Pool, RowResult, Table
from did_app.lifecycle import create
from did_app.models import CapacityGroup, CapacityPool, Number, SmsRoute, VoiceRoute, Workspace
from did_app.registration.requirements import requirement_table
from did_app.rules import capacity as capacity_rules
from did_app.workspace import current_workspace, ensure_workspace

SHOWN_ROWS = 1000
CHANGED_MEANWHILE = "Routes, capacity groups or pools changed while the file was checked. Run the import again."


@dataclass
class Report:
    """What a dry run or an import found; `orders` is set when numbers were written."""
    filename: str
    dry_run: bool
    skip_existing: bool
    currency: str
    balance_minor: int
    rows: list[RowResult]
    notes: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    refusal: str | None = None  # why an import wrote nothing
    lookups: Lookups | None = field(default=None, repr=False)  # what the rows were checked against

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def specs(self) -> list[create.NumberSpec]:
        return [r.spec for r in self.rows if r.outcome == "add"]

    @property
    def charge(self) -> tuple[int, int, int]:
        return create.total_charge(self.specs)

    @property
    def short(self) -> bool:
        return self.charge[0] > self.balance_minor

    @property
    def clean(self) -> bool:
        """Nothing stands in the way of importing: no row error, the balance covers, something to add."""
        return not self.count("error") and not self.short and bool(self.specs)

    def summary(self) -> dict:
        """The report as plain data (stored as JSON between requests): counts, money, first rows."""
        total, setup, first = self.charge
        return dict(
            filename=self.filename, dry_run=self.dry_run, skip_existing=self.skip_existing,
            add=self.count("add"), skip=self.count("skip"), error=self.count("error"), rows_total=len(self.rows),
            total_minor=total, setup_minor=setup, first_month_minor=first, balance_minor=self.balance_minor,
            after_minor=self.balance_minor - total, short=self.short, currency=self.currency, notes=self.notes,
            orders=self.orders, refusal=self.refusal,
            rows=[dict(row=r.row, number=r.number, outcome=r.outcome, messages=r.messages, rule=r.rule)
                  for r in self.rows[:SHOWN_ROWS]])

    def csv_text(self) -> str:
        """The full report: `row, number, outcome, message`, one line per message (the number as typed
        when it did not parse, so formula-safe like every CSV)."""
        return csv_out.text(("row", "number", "outcome", "message"), (
            (r.row, r.number, r.outcome, message)
            for r in self.rows for message in (r.messages or [f"rule: {r.rule}" if r.rule else ""])))


def summary_line(summary: dict) -> str:
    """ "{a} to add, {s} skipped, {e} with errors." as on the add preview (lifecycle.md §2)."""
    return f"{summary['add']:,} to add, {summary['skip']:,} skipped, {summary['error']:,} with errors."


def check_file(table: Table, *, filename: str, skip_existing: bool, progress=None) -> Report:
    """Dry run: check every row, apply the rules to the rows to add, weigh the charge against the
    balance. Writes nothing. `progress(phase, done, total)` is called as the rows are read."""
    return _check(table, filename=filename, dry_run=True, skip_existing=skip_existing, progress=progress)


def import_file(actor, table: Table, *, filename: str, skip_existing: bool, progress=None) -> Report:
    """Import: check as the dry run does; then, only when no row has an error and the balance covers
    the charge, create the numbers in one transaction (one order per order reference, charges,
    history) and record the import. Otherwise, or when the creation service refuses (a number added
    meanwhile, a short balance, references changed), nothing is written and `refusal` says why."""
    report = _check(table, filename=filename, dry_run=False, skip_existing=skip_existing, progress=progress)
    if report.count("error"):
        errors = report.count("error")
        report.refusal = f"Fix the {errors:,} {'row' if errors == 1 else 'rows'} with errors; nothing was imported."
    elif report.short:
        total = money.format_money(report.charge[0], report.currency)
        report.refusal = f"Balance {money.format_money(report.balance_minor, report.currency)} is short of {total}."
    elif not report.specs:
        report.refusal = "There are no numbers to add."
    if report.refusal:
        return report
    if progress:
        progress("write", 0, len(report.specs))
    try:
        with write_transaction() as session:
            ensure_workspace(session)
            _recheck(session, report)
            orders = create.create_numbers(session, actor, report.specs, kind="import")
            report.orders = [o.reference for o in orders]
            audit.record(actor, "import.completed", "order", orders[0].id, filename or "import", after=dict(
                file=filename, added=report.count("add"), skipped=report.count("skip"), orders=report.orders,
                charged=report.charge[0]))
    except DomainError as err:
        report.orders, report.refusal = [], err.message
    return report


def _check(table: Table, *, filename: str, dry_run: bool, skip_existing: bool, progress) -> Report:
    session = db.session
    ws = current_workspace()  # a transient default before the first-run settings exist
    parsed = parser.read_numbers(table, ws.default_country,
                                 progress and (lambda done, total: progress("read", done, total)))
    lookups = _lookups(session, ws, [p.e164 for p in parsed if p.number is not None])
    rows = parser.check_rows(table, parsed, lookups, skip_existing=skip_existing,
                             progress=progress and (lambda done, total: progress("check", done, total)))
    report = Report(filename=filename, dry_run=dry_run, skip_existing=skip_existing, currency=ws.currency,
                    balance_minor=ws.balance_minor, rows=rows, notes=_notes(table), lookups=lookups)
    create.apply_rules(session, report.specs)
    return report


def _lookups(session, ws: Workspace, numbers: list[str]) -> Lookups:
    """One query per reference table, and the file's numbers already in the inventory (by 900)."""
    existing = set()
    for chunk in chunked(numbers):
        existing.update(session.scalars(sa.select(Number.number).where(Number.number.in_(chunk))))
    return Lookups(currency=ws.currency, time_zone=ws.time_zone, default_country=ws.default_country,
                   now=clock.now(), existing=frozenset(existing), **_references(session))


def _references(session) -> dict:
    assigned = capacity_rules.assigned_by_pool()
    countries: dict[int, set] = {}
    for pool_id, country in session.execute(sa.text("SELECT pool_id, country FROM capacity_pool_country")):
        countries.setdefault(pool_id, set()).add(country)
    return dict(
        voice_routes={key: i for i, key in session.execute(sa.select(VoiceRoute.id, VoiceRoute.name_key))},
        sms_routes={key: i for i, key in session.execute(sa.select(SmsRoute.id, SmsRoute.name_key))},
        groups={name.lower(): Group(i, name, pool_id) for i, name, pool_id in session.execute(
            sa.select(CapacityGroup.id, CapacityGroup.name, CapacityGroup.pool_id))},
        pools={i: Pool(i, name, frozenset(countries.get(i, ())), total - assigned.get(i, 0))
               for i, name, total in session.execute(
                   sa.select(CapacityPool.id, CapacityPool.name, CapacityPool.total_channels))},
        requirements=requirement_table())


def _recheck(session, report: Report) -> None:
    """Inside the write transaction: the references the rows were checked against still hold."""
    now = _references(session)
    before = report.lookups
    unchanged = (now["voice_routes"] == before.voice_routes and now["sms_routes"] == before.sms_routes
                 and now["groups"] == before.groups and now["requirements"] == before.requirements
                 and {i: (p.name, p.countries) for i, p in now["pools"].items()}
                 == {i: (p.name, p.countries) for i, p in before.pools.items()})
    if not unchanged:
        raise DomainError(CHANGED_MEANWHILE)
    for pool_id, needed in parser.pool_needs(report.rows).items():
        pool = now["pools"][pool_id]
        if needed > pool.unassigned:
            raise DomainError(f"Pool {pool.name} has {pool.unassigned} unassigned channels; {needed} are needed.")


def _notes(table: Table) -> list[str]:
    """File-level notes: columns that are read but not applied."""
    notes = []
    index = table.columns.get("identity")
    if index is not None and any(index < len(cells) and cells[index].strip() for _, cells in table.rows):
        notes.append("The identity column is ignored: assign end-user details on the numbers after the import.")
    return notes
