"""Claiming due reminders exactly once, and grouping the claims into notifications (lifecycle.md
§11–§12, engineering.md §5).

When a reminder is due. Offset o of a subject is due when today (workspace time zone) ≥ due_on − o
while its condition holds; due dates already past claim nothing. With k = due_on − today, the
offsets due are those ≥ k: the smallest is claimed ('claimed'), the larger ones are recorded
'skipped' (catch-up). ON CONFLICT DO NOTHING keeps whatever an earlier run recorded, so a 30-day
reminder claimed last month is not turned into a skip, and a second run claims nothing.

How it runs in SQL. Python builds the local days that can be due (today … today + the largest
offset), each with its UTC boundaries and its claimed offset, as a derived table of literal rows
(a UNION ALL: portable, no time-zone functions in SQL), and a table of the offsets. The days drive
the subjects' due-date index (one range per day), and an anti-join on the claims' unique key
leaves out the (subject, day, offset) rows already recorded, so a run reads what earlier runs
claimed instead of attempting conflicting inserts. Per kind, one read ranks the subjects with
something to record in (due date, id) order and returns every 500th as a chunk bound (window
functions: only the bounds leave the database); a re-run with nothing new stops there. Then one
`INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` per chunk, joined only to the few days its due
dates span. Only the returned rows are this run's claims. (At most 366 day rows, under SQLite's
limit of 500 terms in a compound SELECT.)

Chunks and transactions. The claims of one run sharing (kind, due_on, offset) must become ONE
notification created in the claims' transaction, so a kind's chunks share one transaction: its
claims, its notifications and the claims' notification ids commit together or not at all. Kinds
are separate transactions (a kind is in the grouping key, so no group spans two). Each transaction
first locks the workspace row (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises
writers anyway), so two concurrent runs take turns per kind instead of waiting on each other's
unique-key inserts row by row; the later one finds the claims made and returns nothing.
"""
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from did_app import clock
from did_app.db import insert_for, write_transaction
from did_app.lifecycle import forecast
from did_app.models import Number, Proof, ReminderClaim, Workspace
from did_app.models._base import UTCDateTime
from did_app.models.workspace import DEFAULT_REMINDER_OFFSETS
from did_app.notifications import service as notifications
from did_app.reminders import kinds, messages

log = logging.getLogger(__name__)
UTC = timezone.utc
CHUNK = 500
LOCK_RETRIES = 3
FORECAST_LINK = "billing.forecast"  # the endpoint a low_balance_forecast notification links to
_C = ReminderClaim.__table__.c
CLAIM_KEY = ["kind", "subject_type", "subject_id", "due_on", "offset_days"]


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Window:
    """The local days on which some offset is due: (due_on, claimed offset), nearest first."""
    today: date
    tz: str
    offsets: tuple[int, ...]
    days: tuple[tuple[date, int], ...]

    @property
    def last_day(self) -> date:
        return self.days[-1][0]

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, clock_time.min, _zone(self.tz)).astimezone(UTC)


def window(ws: Workspace, now: datetime) -> Window:
    offsets = tuple(sorted({int(o) for o in (ws.reminder_offsets or DEFAULT_REMINDER_OFFSETS)}))
    today = now.astimezone(_zone(ws.time_zone)).date()
    days = tuple((today + timedelta(days=k), min(o for o in offsets if o >= k)) for k in range(offsets[-1] + 1))
    return Window(today, ws.time_zone, offsets, days)


class Claim(NamedTuple):
    """One claim this run made. `due_on` is as the driver returns it (a date on PostgreSQL, ISO text
    on SQLite): a first run returns tens of thousands of rows, so each becomes a date only once per
    group (`_groups`)."""
    id: int
    subject_id: int
    due_on: object
    offset_days: int


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# ---- the literal tables ------------------------------------------------------------------------

def _rows_table(selects: list, name: str):
    return (sa.union_all(*selects) if len(selects) > 1 else selects[0]).subquery(name)


def _days_table(w: Window, shift: timedelta | None, first: date, last: date):
    """(due_on, claim_offset[, lo, hi]) for the window's days from `first` to `last`: with `shift`,
    the UTC range of the subject's instant column whose instant + shift falls on that local day."""
    stamp = UTCDateTime()
    selects = []
    for day, claim_offset in w.days:
        if not first <= day <= last:
            continue
        cols = [sa.literal(day, sa.Date).label("due_on"), sa.literal(claim_offset, sa.Integer).label("claim_offset")]
        if shift is not None:
            cols += [sa.literal(w.midnight(day) - shift, stamp).label("lo"),
                     sa.literal(w.midnight(day + timedelta(days=1)) - shift, stamp).label("hi")]
        selects.append(sa.select(*cols))
    return _rows_table(selects, "days")


def _offsets_table(w: Window):
    return _rows_table([sa.select(sa.literal(o, sa.Integer).label("offset_days")) for o in w.offsets], "offsets")


@dataclass(frozen=True)
class Source:
    """A kind's pending subjects: `key` is the due-date column, an instant (`shift` after it is the
    due instant) or, with shift None, the due date itself."""
    kind: str
    subject_type: str
    id_col: object
    key: object
    pending: object
    shift: timedelta | None

    def day_of(self, w: Window, key) -> date:
        if self.shift is None:
            return key
        return (key + self.shift).astimezone(_zone(w.tz)).date()

    def match(self, key, days):
        """`key` (the due-date column) falls on one of `days`."""
        if self.shift is None:
            return key == days.c.due_on
        return sa.and_(key >= days.c.lo, key < days.c.hi)

    def unrecorded(self, subject_id, days, offsets):
        """No claim row yet for (subject, day, offset): the anti-join on the claims' unique key, so
        a re-run reads that index and attempts no insert (each attempt conflicting costs more)."""
        return ~sa.exists().where(_C.kind == self.kind, _C.subject_type == self.subject_type,
                                  _C.subject_id == subject_id, _C.due_on == days.c.due_on,
                                  _C.offset_days == offsets.c.offset_days)

    def due_rows(self, subject_id, key, days, offsets) -> list:
        """The conditions of the rows due and not yet recorded: the subject's day, the offsets due
        that day, no claim row yet."""
        return [self.match(key, days), offsets.c.offset_days >= days.c.claim_offset,
                self.unrecorded(subject_id, days, offsets)]


# ---- one INSERT … SELECT per chunk -------------------------------------------------------------

def _insert_claims(session, src: Source, subject_id, key, days, offsets, now: datetime, where: list) -> list[Claim]:
    """Claim the due offsets of the subjects (`subject_id`, `key` columns) that `where` selects; the
    rows this run made."""
    state = sa.case((offsets.c.offset_days == days.c.claim_offset, "claimed"), else_="skipped")
    rows = (sa.select(sa.literal(src.kind, sa.String), sa.literal(src.subject_type, sa.String), subject_id,
                      days.c.due_on, offsets.c.offset_days, state, sa.literal(now, UTCDateTime()))
            # a WHERE, not JOIN … ON: SQLite's upsert after INSERT … SELECT needs the WHERE to parse
            .where(*where, *src.due_rows(subject_id, key, days, offsets))
            .order_by(subject_id, offsets.c.offset_days))
    stmt = (insert_for(ReminderClaim.__table__)  # Core: the ORM's bulk-insert layer only adds cost here
            .from_select(CLAIM_KEY + ["state", "claimed_at"], rows)
            # kept for a concurrent run the workspace lock did not hold off; the anti-join above
            # already leaves out what earlier runs recorded
            .on_conflict_do_nothing(index_elements=CLAIM_KEY)
            # raw due_on and state: no per-row type processing (see Claim)
            .returning(_C.id, _C.subject_id, sa.type_coerce(_C.due_on, sa.String), _C.offset_days,
                       sa.type_coerce(_C.state, sa.String)))
    # Core rows, all fetched at once: thousands come back on a first run
    return [Claim(*r[:4]) for r in session.connection().execute(stmt).all() if r[4] == "claimed"]


def _chunk_bounds(session, src: Source, w: Window, offsets) -> list[tuple]:
    """The (key, id) of every CHUNK-th subject, in (key, id) order, with some due offset not yet
    recorded, and of the last such subject: one read per kind (window functions, so only the bounds
    leave the database). A re-run that has nothing to claim stops here."""
    days = _days_table(w, src.shift, w.today, w.last_day)
    # no separate window condition on the key: the days alone bound it, so the planner reads one
    # index range per day (with the window's range it scanned the window once per day instead)
    missing = (sa.select(src.key.label("key"), src.id_col.label("id"))
               .where(src.pending, *src.due_rows(src.id_col, src.key, days, offsets))
               .distinct().subquery("missing"))
    ranked = sa.select(missing.c.key, missing.c.id,
                       sa.func.row_number().over(order_by=(missing.c.key, missing.c.id)).label("rn"),
                       sa.func.count().over().label("total")).subquery("ranked")
    return [tuple(r) for r in session.execute(
        sa.select(ranked.c.key, ranked.c.id).where(sa.or_(ranked.c.rn % CHUNK == 0, ranked.c.rn == ranked.c.total))
        .order_by(ranked.c.rn))]


def _chunked_claims(session, src: Source, w: Window, now: datetime) -> list[Claim]:
    """Claim in (key, id) ranges holding at most CHUNK subjects with something to record (others in
    the range are read, not inserted). Each range is joined only to the days its keys span (a chunk
    of 500 spans a day or two, not the whole window)."""
    made, after = [], None
    order = sa.tuple_(src.key, src.id_col)
    offsets = _offsets_table(w)
    for upper in _chunk_bounds(session, src, w, offsets):
        conds = [src.pending, order <= sa.tuple_(*upper)]
        if after is not None:
            conds.append(order > sa.tuple_(*after))
        first = w.today if after is None else max(w.today, src.day_of(w, after[0]))
        last = min(w.last_day, src.day_of(w, upper[0]))
        made += _insert_claims(session, src, src.id_col, src.key, _days_table(w, src.shift, first, last), offsets,
                               now, conds)
        after = upper
    return made


def claim_numbers(session, kind: kinds.NumberKind, ws: Workspace, w: Window, now: datetime) -> list[Claim]:
    pending = kind.pending(ws)
    if pending is None:
        return []
    src = Source(kind.name, kind.subject_type, Number.id, kind.column, pending, kind.shift(ws))
    return _chunked_claims(session, src, w, now)


def claim_proofs(session, kind: kinds.ProofKind, w: Window, now: datetime) -> list[Claim]:
    src = Source(kind.name, kind.subject_type, Proof.id, Proof.expires_on, kind.pending(w.today), None)
    return _chunked_claims(session, src, w, now)


def claim_workspace(session, ws: Workspace, w: Window, now: datetime, due_on: date) -> list[Claim]:
    src = Source(kinds.LOW_BALANCE, "workspace", Workspace.id, None, None, None)
    subject = kinds.workspace_subject(ws, due_on).subquery("s")
    return _insert_claims(session, src, subject.c.id, subject.c.key, _days_table(w, None, due_on, due_on),
                          _offsets_table(w), now, [])


# ---- grouping ----------------------------------------------------------------------------------

def _groups(claims: list[Claim]) -> dict:
    groups = defaultdict(list)
    for c in claims:
        groups[(c.due_on, c.offset_days)].append(c)
    return {(_as_date(due_on), offset): group for (due_on, offset), group in sorted(groups.items())}


def _attach(session, note_ids: list[int | None], groups: list[list[Claim]]) -> None:
    """Point each group's claims at its notification: one UPDATE per group chunk, not per claim."""
    # an expanding parameter: one compiled statement, and no per-id coercion of a literal list
    stmt = (sa.update(ReminderClaim.__table__).where(_C.id.in_(sa.bindparam("ids", expanding=True)))
            .values(notification_id=sa.bindparam("note_id")))
    for note_id, group in zip(note_ids, groups):
        if note_id is None:
            continue
        ids = [c.id for c in group]
        for i in range(0, len(ids), CHUNK):
            session.connection().execute(stmt, {"ids": ids[i:i + CHUNK], "note_id": note_id})


def _notify_groups(session, groups: dict, drafts: list[notifications.Draft]) -> None:
    """Write the groups' notifications together (one statement per table) and attach their claims."""
    _attach(session, notifications.notify_many(session, drafts), list(groups.values()))


def _number_draft(kind_name: str, ws: Workspace, due_on: date, offset: int, described: list[tuple]):
    numbers = sorted(number for number, _ in described)
    if kind_name == "renewal_balance_short":
        text = messages.renewal_balance_short(len(numbers), due_on, sum(p or 0 for _, p in described), ws.currency)
    else:
        text = messages.NUMBER_MESSAGES[kind_name](len(numbers), due_on)
    return notifications.Draft(kind_name, numbers, text, due_on, offset)


def _notify_numbers(session, kind_name: str, ws: Workspace, claims: list[Claim]) -> None:
    groups = _groups(claims)
    # every claimed number described at once (number, renewal price), not one read per group
    described = kinds.numbers_by_id(session, [c.subject_id for c in claims])
    drafts = [_number_draft(kind_name, ws, due_on, offset, [described[c.subject_id] for c in group
                                                            if c.subject_id in described])
              for (due_on, offset), group in groups.items()]
    _notify_groups(session, groups, drafts)


def _notify_proofs(session, claims: list[Claim]) -> None:
    groups = _groups(claims)
    drafts = []
    for (due_on, offset), group in groups.items():
        proof_ids = [c.subject_id for c in group]
        text = messages.proof_expiring(len(proof_ids), due_on, kinds.proof_identity_names(session, proof_ids))
        drafts.append(notifications.Draft(kinds.PROOF_KIND.name, kinds.proof_numbers(session, proof_ids), text,
                                          due_on, offset))
    _notify_groups(session, groups, drafts)


# ---- one transaction per kind ------------------------------------------------------------------

def _locked_workspace(session) -> Workspace | None:
    return session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1).with_for_update()).first()


def _number_kind(kind: kinds.NumberKind, now: datetime):
    def run(session) -> int:
        ws = _locked_workspace(session)
        claims = claim_numbers(session, kind, ws, window(ws, now), now)
        _notify_numbers(session, kind.name, ws, claims)
        return len(claims)
    return run


def _proof_kind(now: datetime):
    def run(session) -> int:
        ws = _locked_workspace(session)
        claims = claim_proofs(session, kinds.PROOF_KIND, window(ws, now), now)
        _notify_proofs(session, claims)
        return len(claims)
    return run


def _nothing_new_for_low_balance(session, ws: Workspace, w: Window) -> bool:
    """Whether the stored cutoff (forecast horizon H, kept fresh by every change and renewals run)
    already shows that no low-balance reminder can be new, so the 90-day forecast need not run:
    - no cutoff within H, and no offset reaches beyond H: the balance runs out later than any
      reminder can be due (or never);
    - a cutoff within H is the 90-day forecast's cutoff too (the same renewals come before it):
      nothing is new when its date is not yet due, or its nearest due offset is already claimed."""
    cutoff = ws.renewal_risk_cutoff_at
    if cutoff is None:
        return w.offsets[-1] <= ws.forecast_horizon_days
    due_on = cutoff.astimezone(_zone(ws.time_zone)).date()
    offset = dict(w.days).get(due_on)
    if offset is None:
        return True
    return session.scalar(sa.select(sa.literal(1)).where(
        ReminderClaim.kind == kinds.LOW_BALANCE, ReminderClaim.subject_type == "workspace",
        ReminderClaim.subject_id == ws.id, ReminderClaim.due_on == due_on,
        ReminderClaim.offset_days == offset)) is not None


def _low_balance_kind(now: datetime):
    def run(session) -> int:
        ws = _locked_workspace(session)
        w = window(ws, now)
        if _nothing_new_for_low_balance(session, ws, w):
            return 0
        outlook = forecast.outlook(session, ws.time_zone, ws.balance_minor, kinds.LOW_BALANCE_HORIZON_DAYS, now)
        if outlook.shortfall_at is None:
            return 0
        due_on = outlook.shortfall_at.astimezone(_zone(ws.time_zone)).date()
        if not w.today <= due_on <= w.last_day:
            return 0  # past (renewals overdue: the next renewals run charges or expires them) or not yet due
        claims = claim_workspace(session, ws, w, now, due_on)
        text = messages.low_balance_forecast(due_on, outlook.short_total, ws.currency)
        groups = _groups(claims)
        _notify_groups(session, groups, [notifications.Draft(kinds.LOW_BALANCE, [], text, day, offset, FORECAST_LINK)
                                         for day, offset in groups])
        return len(claims)
    return run


def _in_transaction(step) -> int:
    """`step(session)` in one write transaction, retried when SQLite says "database is locked"
    (every step is idempotent, so a retry can't claim anything twice)."""
    for attempt in range(LOCK_RETRIES + 1):
        try:
            with write_transaction() as session:
                return step(session)
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc) or attempt == LOCK_RETRIES:
                raise
            log.warning("reminders: transaction retried after %s", exc.orig)
            time.sleep(0.05 * (attempt + 1))
    return 0


def _has_workspace() -> bool:
    with write_transaction() as session:
        return session.scalar(sa.select(sa.func.count(Workspace.id))) > 0


def claim_due_reminders() -> int:
    """Claim every due reminder of every kind and create its grouped notifications; the number of
    claims made (skipped offsets not counted)."""
    if not _has_workspace():
        return 0
    now = clock.now()
    steps = [_number_kind(k, now) for k in kinds.NUMBER_KINDS] + [_low_balance_kind(now), _proof_kind(now)]
    return sum(_in_transaction(step) for step in steps)
