"""Claiming due reminders exactly once, and grouping the claims into notifications (lifecycle.md
§11–§12, engineering.md §5).

When a reminder is due. Offset o of a subject is due when today (workspace time zone) ≥ due_on − o
while its condition holds; due dates already past claim nothing. With k = due_on − today, the
offsets due are those ≥ k: the smallest is claimed ('claimed'), the larger ones are recorded
'skipped' (catch-up). ON CONFLICT DO NOTHING keeps whatever an earlier run recorded, so a 30-day
reminder claimed last month is not turned into a skip, and a second run claims nothing.

How it runs in SQL. Python builds the local days that can be due (today … today + the largest
offset), each with its UTC boundaries and its claimed offset, as a derived table of literal rows
(a UNION ALL: portable, no time-zone functions in SQL), and a table of the offsets. One
`INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` per chunk of at most 500 subjects joins the
pending subjects to their day and to the offsets due that day; a chunk, read in (due date, id)
order, is joined only to the few days its due dates span. Only the returned rows are this run's
claims. (At most 366 day rows, under SQLite's limit of 500 terms in a compound SELECT.)

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


@dataclass(frozen=True)
class Claim:
    id: int
    subject_id: int
    due_on: date
    offset_days: int


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

    def window(self, w: Window) -> list:
        if self.shift is None:
            return [self.key >= w.today, self.key <= w.last_day]
        return [self.key >= w.midnight(w.today) - self.shift,
                self.key < w.midnight(w.last_day + timedelta(days=1)) - self.shift]

    def match(self, subjects, days):
        if self.shift is None:
            return subjects.c.key == days.c.due_on
        return sa.and_(subjects.c.key >= days.c.lo, subjects.c.key < days.c.hi)


# ---- one INSERT … SELECT per chunk -------------------------------------------------------------

def _insert_claims(session, src: Source, subjects, days, offsets, now: datetime) -> list[Claim]:
    """Claim the due offsets of `subjects` (a subquery with columns id, key); the rows this run made."""
    state = sa.case((offsets.c.offset_days == days.c.claim_offset, "claimed"), else_="skipped")
    rows = (sa.select(sa.literal(src.kind, sa.String), sa.literal(src.subject_type, sa.String), subjects.c.id,
                      days.c.due_on, offsets.c.offset_days, state, sa.literal(now, UTCDateTime()))
            # a WHERE, not JOIN … ON: SQLite's upsert after INSERT … SELECT needs the WHERE to parse
            .select_from(subjects, days, offsets)
            .where(src.match(subjects, days), offsets.c.offset_days >= days.c.claim_offset)
            .order_by(subjects.c.id, offsets.c.offset_days))
    stmt = (insert_for(ReminderClaim.__table__)  # Core: the ORM's bulk-insert layer only adds cost here
            .from_select(CLAIM_KEY + ["state", "claimed_at"], rows)
            .on_conflict_do_nothing(index_elements=CLAIM_KEY)
            .returning(_C.id, _C.subject_id, _C.due_on, _C.offset_days, _C.state))
    return [Claim(r.id, r.subject_id, r.due_on, r.offset_days)
            for r in session.execute(stmt) if r.state == "claimed"]


def _chunked_claims(session, src: Source, w: Window, now: datetime) -> list[Claim]:
    """Walk the pending subjects in (key, id) order, at most CHUNK per INSERT. Each chunk is joined
    only to the days its keys span (a chunk of 500 spans a day or two, not the whole window)."""
    made, after = [], None
    order = sa.tuple_(src.key, src.id_col)
    offsets = _offsets_table(w)
    while True:
        conds = [src.pending, *src.window(w)]
        if after is not None:
            conds.append(order > sa.tuple_(*after))
        upper = session.execute(sa.select(src.key, src.id_col).where(*conds).order_by(src.key, src.id_col)
                                .offset(CHUNK - 1).limit(1)).first()
        if upper is not None:
            conds.append(order <= sa.tuple_(*upper))
        # the LIMIT (never reached: the bounds hold at most CHUNK) keeps the chunk a materialised
        # subquery read from the due-date index, joined to the small literal tables afterwards
        subjects = (sa.select(src.id_col.label("id"), src.key.label("key")).where(*conds)
                    .order_by(src.key, src.id_col).limit(CHUNK).subquery("s"))
        first = w.today if after is None else max(w.today, src.day_of(w, after[0]))
        last = w.last_day if upper is None else min(w.last_day, src.day_of(w, upper[0]))
        if first <= last:
            made += _insert_claims(session, src, subjects, _days_table(w, src.shift, first, last), offsets, now)
        if upper is None:
            return made
        after = tuple(upper)


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
    subjects = kinds.workspace_subject(ws, due_on).subquery("s")
    return _insert_claims(session, src, subjects, _days_table(w, None, due_on, due_on), _offsets_table(w), now)


# ---- grouping ----------------------------------------------------------------------------------

def _groups(claims: list[Claim]) -> dict:
    groups = defaultdict(list)
    for c in claims:
        groups[(c.due_on, c.offset_days)].append(c)
    return dict(sorted(groups.items()))


def _attach(session, note, claims: list[Claim]) -> None:
    """Point the group's claims at their notification: one UPDATE per group chunk, not per claim."""
    ids = [c.id for c in claims]
    for i in range(0, len(ids), CHUNK):
        session.connection().execute(sa.update(ReminderClaim.__table__).where(_C.id.in_(ids[i:i + CHUNK]))
                                     .values(notification_id=note.id))


def _notify_numbers(session, kind_name: str, ws: Workspace, claims: list[Claim]) -> None:
    for (due_on, offset), group in _groups(claims).items():
        numbers, total = kinds.numbers_with_prices(session, [c.subject_id for c in group])
        if kind_name == "renewal_balance_short":
            text = messages.renewal_balance_short(len(numbers), due_on, total, ws.currency)
        else:
            text = messages.NUMBER_MESSAGES[kind_name](len(numbers), due_on)
        note = notifications.notify(session, kind_name, numbers, text, due_on=due_on, offset_days=offset)
        if note is not None:
            _attach(session, note, group)


def _notify_proofs(session, claims: list[Claim]) -> None:
    for (due_on, offset), group in _groups(claims).items():
        proof_ids = [c.subject_id for c in group]
        numbers = kinds.proof_numbers(session, proof_ids)
        text = messages.proof_expiring(len(proof_ids), due_on, kinds.proof_identity_names(session, proof_ids))
        note = notifications.notify(session, kinds.PROOF_KIND.name, numbers, text, due_on=due_on, offset_days=offset)
        if note is not None:
            _attach(session, note, group)


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
        for c in claims:
            note = notifications.notify(session, kinds.LOW_BALANCE, [],
                                        messages.low_balance_forecast(due_on, outlook.short_total, ws.currency),
                                        due_on=due_on, offset_days=c.offset_days, link=FORECAST_LINK)
            _attach(session, note, [c])
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
