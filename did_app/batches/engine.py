"""Batch use cases (batch.md §2, §4, §5): preview, exclude errors, confirm, undo. One transaction
each (confirm: the claim, then the apply). Outcomes, applies, history and undo are set-based
statements of the action (actions/base.py); nothing here loops over numbers.
"""
import logging
import secrets
import threading
from datetime import timedelta
from urllib.parse import parse_qsl

import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import MultiDict

from did_app import clock
from did_app.batches.actions import ACTIONS, UNDO, Action, action_for
from did_app.batches.actions.base import EXCLUDED, NAMED, history_key, stored, within_chunk
from did_app.batches.sql import json_get
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.models import Batch, BatchItem, Number, SavedList
from did_app.numbers import queries, search
from did_app.numbers import service as numbers_service
from did_app.workspace import current_workspace

MAX_IDS = 10_000
TOO_MANY_IDS = "Select at most 10,000 rows one by one; use 'Select all matching' for more."
EXPIRY = timedelta(minutes=30)
EXPIRED = "This preview has expired. Preview again."
ALREADY_APPLYING = "This batch is already being applied."
STALE = "{k} numbers changed since the preview. Review again."
NOT_FOUND = "That batch does not exist."
log = logging.getLogger(__name__)


class BatchNotFound(DomainError):
    """No batch with that id (404)."""


class _Stale(Exception):
    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


# ---- helpers (no transaction of their own) --------------------------------------------------

def action_of(code: str) -> Action:
    if code not in ACTIONS:
        raise DomainError("Choose an action from the list.", "action")
    return ACTIONS[code]


def parse_ids(text: str | None) -> list[int]:
    """"1,2,3" → [1, 2, 3] (at most 10,000); DomainError for anything else."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if len(parts) > MAX_IDS:
        raise DomainError(TOO_MANY_IDS)
    ids = [int(p) for p in parts if p.isascii() and p.isdigit() and len(p) <= 12]
    if len(ids) != len(parts) or not ids:
        raise DomainError("Select at least one number.")
    return list(dict.fromkeys(ids))


def selection_condition(selection: dict, now):
    """The SQL condition on `number` of a selection: {"ids": [...]} or {"filter": "<query string
    of /numbers>"}, read with the table's own filter and search (numbers/queries.py)."""
    if "ids" in selection:
        ids = selection["ids"]
        if len(ids) > MAX_IDS:
            raise DomainError(TOO_MANY_IDS)
        if not ids:
            raise DomainError("Select at least one number.")
        # more than 900 ids go through a VALUES-free IN of a JSON-held list: chunks OR-ed
        return sa.or_(*(Number.id.in_(ids[i:i + 900]) for i in range(0, len(ids), 900)))
    if "filter" in selection:
        view = queries.parse_view(MultiDict(parse_qsl(selection["filter"] or "", keep_blank_values=False)))
        ws = current_workspace()
        plan = _search_plan(view, ws)
        if plan.too_many:
            raise DomainError("Paste at most 10,000 numbers.")
        return sa.and_(sa.true(), *queries.filter_conditions(view, ws, now), *queries.search_conditions(plan))
    raise DomainError("Select at least one number.")


def count_selection(selection: dict) -> int:
    """How many numbers a selection holds now (the inputs dialog says it); DomainError as preview."""
    where = selection_condition(selection, clock.now())
    return db.session.scalar(sa.select(sa.func.count()).select_from(Number).where(where))


def _search_plan(view, ws):
    # as the table reads its search box: a saved list, or the typed text (numbers/views.py)
    if view.list:
        return numbers_service.load_saved_list(view.list) or search.SearchPlan(kind="numbers", numbers=[])
    return search.interpret(view.q, ws.default_country)


def _count_outcomes(batch: Batch) -> None:
    rows = db.session.execute(sa.select(BatchItem.outcome, sa.func.count(), sa.func.coalesce(
        sa.func.sum(BatchItem.cost_minor), 0)).where(BatchItem.batch_id == batch.id)
        .group_by(BatchItem.outcome)).all()
    counts = {outcome: (n, cost) for outcome, n, cost in rows}
    batch.change_count = counts.get("change", (0, 0))[0]
    batch.skip_count = counts.get("skip", (0, 0))[0]
    batch.error_count = counts.get("error", (0, 0))[0]
    batch.total_cost_minor = int(counts.get("change", (0, 0))[1])
    batch.message = action_for(batch).batch_error(batch)


def _classify_again(batch: Batch, *, exclude_errors: bool = False) -> None:
    """Preview the same numbers again (the set is frozen at the first preview): fresh items, the
    excluded ones (and, with `exclude_errors`, today's errors) as skips "Excluded after error"."""
    action = action_for(batch)
    last_old = db.session.scalar(sa.select(sa.func.max(BatchItem.id)).where(BatchItem.batch_id == batch.id)) or 0
    old = sa.and_(BatchItem.batch_id == batch.id, BatchItem.id <= last_old)
    excluded_when = BatchItem.reason == EXCLUDED
    if exclude_errors:
        excluded_when = sa.or_(excluded_when, BatchItem.outcome == "error")
    excluded = Number.id.in_(sa.select(BatchItem.number_id).where(old, excluded_when))
    action.classify(batch.id, Number.id.in_(sa.select(BatchItem.number_id).where(old)), batch.params,
                    excluded=excluded)
    db.session.execute(sa.delete(BatchItem).where(old))
    batch.status, batch.created_at = "previewed", clock.now()
    _count_outcomes(batch)


def _load(session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise BatchNotFound(NOT_FOUND)
    return batch


# ---- use cases --------------------------------------------------------------------------------

def preview(actor, action_code: str, selection: dict, params: dict) -> Batch:
    """Classify every selected number as change / skip / error without touching numbers, and store
    the batch in status `previewed` with its items and counts (batch.md §2).

    `selection` is {"ids": [number ids]} (at most 10,000) or {"filter": "<query string>"}.
    Raises DomainError for an unknown action, a selection too large or empty, or params the
    single-number edit would refuse (with its message, under its field).
    """
    action = action_of(action_code)
    now = clock.now()
    where = selection_condition(selection, now)  # outside the transaction: a saved list may touch itself
    with write_transaction() as session:
        params = action.clean(dict(params))
        batch = Batch(action=action.code, params=params, selection=selection, status="previewed",
                      created_by=actor.user_id, created_at=now)
        session.add(batch)
        session.flush()
        action.classify(batch.id, where, params)
        _count_outcomes(batch)
    return batch


def exclude_errors(actor, batch_id: int) -> Batch:
    """Preview again without the numbers with errors: they become skips "Excluded after error".
    Raises DomainError when the batch is no longer a preview, BatchNotFound for an unknown id."""
    with write_transaction() as session:
        batch = _load(session, batch_id)
        if batch.status != "previewed":
            raise DomainError(ALREADY_APPLYING if batch.status == "applying" else "This batch is no longer a preview.")
        _classify_again(batch, exclude_errors=True)
    return batch


def confirm(actor, batch_id: int) -> Batch:
    """Apply a previewed batch (batch.md §2 "Confirm", §5 "Large applies").

    First the move previewed → applying is committed by a conditional update, so a second confirm
    gets "This batch is already being applied."; a preview older than 30 minutes gets "This preview
    has expired. Preview again." Errors in the preview refuse it. Then every change item is
    re-checked (its number exists, the action's fields hold the previewed values, it is still
    eligible); if any differs nothing is written, the batch is previewed again and DomainError
    "{k} numbers changed since the preview. Review again." is raised. Otherwise the changes,
    history and each item's version_after are written and the batch is `applied`.

    Up to BATCH_INLINE_MAX (20,000) changes apply here, in the request; a larger batch applies in
    a background thread of this process and is returned still `applying` (its page polls
    progress()). On SQLite the apply runs in transactions of BATCH_CHUNK_SIZE (20,000) items:
    a failure after the first chunk leaves the batch `failed` with its applied part undoable.
    """
    _claim(batch_id)
    batch = db.session.get(Batch, batch_id)
    if batch.change_count <= _setting("BATCH_INLINE_MAX"):
        _apply(actor, batch_id)
        return batch
    try:
        # refused here, before the thread starts, so the stale message reaches the person confirming
        stale = _stale_count(batch, action_for(batch))
        if stale:
            raise _Stale(stale)
    except _Stale as err:
        _preview_again(batch_id)
        raise DomainError(STALE.format(k=f"{err.count:,}")) from None
    except BaseException:
        _release(batch_id, "previewed")
        raise
    db.session.rollback()  # the thread writes; this request's read transaction ends here
    _start_background(actor, batch_id)
    return batch


DEFAULTS = {"BATCH_INLINE_MAX": 20_000, "BATCH_CHUNK_SIZE": 20_000, "BATCH_STALL_SECONDS": 120}


def _setting(key: str) -> int:
    return int(current_app.config.get(key) or DEFAULTS[key])


def _stale_count(batch: Batch, action: Action, bounds=None) -> int:
    """How many change items (all, or those with ids within `bounds`) no longer hold."""
    where = [BatchItem.batch_id == batch.id, BatchItem.outcome == "change", action.stale_condition(batch.params)]
    if bounds is not None:
        where.append(BatchItem.id.between(*bounds))
    return db.session.scalar(sa.select(sa.func.count()).select_from(BatchItem).outerjoin(
        Number, Number.id == BatchItem.number_id).where(*where))


def _chunks(batch_id: int) -> list:
    """(first, last) item ids of each transaction's items: one chunk on PostgreSQL, chunks of
    BATCH_CHUNK_SIZE change items on SQLite, whose one writer holds its lock for a transaction."""
    if db.session.get_bind().dialect.name != "sqlite":
        return [None]
    size = _setting("BATCH_CHUNK_SIZE")
    ids = db.session.scalars(sa.select(BatchItem.id).where(
        BatchItem.batch_id == batch_id, BatchItem.outcome == "change").order_by(BatchItem.id)).all()
    if len(ids) <= size:
        return [None]
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def _apply(actor, batch_id: int) -> None:
    """Apply a claimed batch chunk by chunk. The first chunk re-checks every item, each later one
    its own; the batch stays `applying` (applied_at marks the last commit) until the last."""
    chunks = _chunks(batch_id)
    db.session.rollback()
    for index, bounds in enumerate(chunks):
        try:
            with write_transaction() as session:
                batch = _load(session, batch_id)
                action = action_for(batch)
                stale = _stale_count(batch, action, None if index == 0 else bounds)
                if stale:
                    raise _Stale(stale)
                now = clock.now()
                with within_chunk(bounds):
                    action.apply(batch.id, actor, now, action.note(batch.params))
                batch.applied_at = now
                if index == len(chunks) - 1:
                    batch.status = "applied"
        except _Stale as err:
            message = STALE.format(k=f"{err.count:,}")
            if index == 0:
                _preview_again(batch_id)
            else:
                _fail(batch_id, message)
            raise DomainError(message) from None
        except BaseException:
            if index == 0:
                _release(batch_id, "previewed")  # nothing was written: the preview stands
            else:
                _fail(batch_id, "An error stopped the apply.")
            raise


def _preview_again(batch_id: int) -> None:
    with write_transaction() as session:
        batch = _load(session, batch_id)
        _classify_again(batch)
        batch.applied_at = None


def applied_count(batch_id: int) -> int:
    """How many change items are written: each gets its version_after in its chunk's transaction."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(BatchItem).where(
        BatchItem.batch_id == batch_id, BatchItem.outcome == "change", BatchItem.version_after.is_not(None)))


def _fail(batch_id: int, why: str) -> None:
    """A stopped apply: `failed`, saying what the committed chunks applied (undo takes that part)."""
    with write_transaction() as session:
        batch = _load(session, batch_id)
        if batch.status != "applying":
            return
        applied = applied_count(batch_id)
        batch.status = "failed"
        batch.message = (f"{why} {applied:,} of {batch.change_count:,} numbers were applied; "
                         f"the other {batch.change_count - applied:,} are unchanged.")[:1000]
        if not applied:
            batch.applied_at = None


# ---- background applies (batch.md §5 "Decide") -----------------------------------------------

_THREADS: dict[int, threading.Thread] = {}
_recovered = False


def _start_background(actor, batch_id: int) -> None:
    app = current_app._get_current_object()  # noqa: SLF001 (the thread needs the app itself)

    def run():
        with app.app_context():
            try:
                _apply(actor, batch_id)
            except DomainError:
                pass  # the batch says it: previewed again, or failed with what applied
            except Exception:
                log.exception("batch %s: the background apply stopped", batch_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, name=f"batch-{batch_id}", daemon=True)
    _THREADS[batch_id] = thread
    thread.start()


def wait_for_background(batch_id: int, timeout: float | None = None) -> None:
    """Block until this process's apply of `batch_id` ends (tests and the benchmark)."""
    thread = _THREADS.pop(batch_id, None)
    if thread is not None:
        thread.join(timeout)


def progress(batch_id: int) -> tuple[int, int]:
    """(applied, to apply) of a batch, read from the database, so any worker answers the poll."""
    batch = _load(db.session, batch_id)
    if batch.status == "applying":
        recover_interrupted()
        db.session.refresh(batch)
    return applied_count(batch_id), batch.change_count


def recover_interrupted() -> int:
    """Mark `failed` every batch left `applying` by a process that stopped: no commit for
    BATCH_STALL_SECONDS (a chunk commits within seconds). Runs on the first request of each
    process and on every progress poll. Returns how many it marked."""
    now = clock.now()
    stall = timedelta(seconds=_setting("BATCH_STALL_SECONDS"))
    ids = db.session.scalars(sa.select(Batch.id).where(Batch.status == "applying", sa.or_(
        Batch.applied_at.is_(None), Batch.applied_at < now - stall))).all()
    db.session.rollback()
    for batch_id in ids:
        if batch_id not in _THREADS or not _THREADS[batch_id].is_alive():
            _fail(batch_id, "The apply was interrupted.")
    return len(ids)


def recover_on_first_request() -> None:
    """The next start after a crash: the first request of each process recovers stopped applies."""
    global _recovered
    if _recovered:
        return
    _recovered = True
    try:
        recover_interrupted()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        log.exception("batches: could not check for interrupted applies")


def _claim(batch_id: int) -> None:
    now = clock.now()
    with write_transaction() as session:
        batch = _load(session, batch_id)
        if batch.status == "previewed" and batch.created_at < now - EXPIRY:
            batch.status = "expired"
        elif batch.status == "previewed" and (batch.error_count or batch.message):
            raise DomainError(f"Resolve the {batch.error_count:,} errors or exclude them.")
        # applied_at: when the apply last made progress, until it ends (recover_interrupted)
        claimed = session.execute(sa.update(Batch).where(
            Batch.id == batch_id, Batch.status == "previewed", Batch.version == batch.version)
            .values(status="applying", applied_at=now, version=Batch.version + 1)
            .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise DomainError(EXPIRED if batch.status == "expired" else ALREADY_APPLYING)


def _release(batch_id: int, status: str) -> None:
    with write_transaction() as session:
        session.execute(sa.update(Batch).where(Batch.id == batch_id, Batch.status == "applying")
                        .values(status=status, applied_at=None, version=Batch.version + 1))


# ---- undo (batch.md §4) -------------------------------------------------------------------

def _applied_items(batch_id: int) -> tuple:
    """The items a batch wrote: every change of an applied batch, the committed chunks of a failed one."""
    return BatchItem.batch_id == batch_id, BatchItem.outcome == "change", BatchItem.version_after.is_not(None)


def undo_refusal(actor, batch: Batch, *, is_admin: bool = False) -> str | None:
    """Why `batch` can't be undone now by `actor`, or None when it can (a read)."""
    if batch.action == UNDO:
        return "An undo can't be undone."
    action = action_for(batch)
    if action.paid and (batch.total_cost_minor or not action.undoable):
        return "Paid actions can't be undone."
    if not action.undoable:
        return "This action can't be undone."
    if batch.status == "undone":
        return "This batch was undone."
    if batch.status not in ("applied", "failed") or batch.applied_at is None:
        return "Only an applied batch can be undone."
    if not is_admin and batch.created_by != actor.user_id:
        return "Only the person who ran this batch or an admin can undo it."
    hours = current_workspace().undo_window_hours
    if clock.now() >= batch.applied_at + timedelta(hours=hours):
        return f"Undo was available for {hours} hours after the batch applied."
    return _changed_since(batch, action) or action.undo_refusal(batch)


def _changed_since(batch: Batch, action: Action) -> str | None:
    changed = (sa.select(BatchItem.number).outerjoin(Number, Number.id == BatchItem.number_id)
               .where(*_applied_items(batch.id), action.changed_since()))
    count = db.session.scalar(sa.select(sa.func.count()).select_from(changed.subquery()))
    if not count:
        return _missing_routes(batch, action) or action.undo_refusal(batch)
    first = db.session.scalars(changed.order_by(BatchItem.number).limit(5)).all()
    return f"Undo unavailable: {count:,} numbers changed since ({', '.join(first)}{'…' if count > 5 else ''})."


def _missing_routes(batch: Batch, action: Action) -> str | None:
    """Today's constraints: a route or group the numbers had before must still exist."""
    for column in action.writes:
        if column not in NAMED:
            continue
        before_id = stored(BatchItem.before, column)
        gone = db.session.scalar(sa.select(json_get(BatchItem.before, history_key(column), sa.String())).where(
            BatchItem.batch_id == batch.id, BatchItem.outcome == "change", before_id.is_not(None),
            ~sa.exists().where(NAMED[column].id == before_id)).limit(1))
        if gone is not None:
            kind = {"capacity_group_id": "Capacity group", "capacity_pool_id": "Pool"}.get(column, "Route")
            return f"{kind} {gone} no longer exists."
    return None


def undo(actor, batch_id: int, *, is_admin: bool = False) -> Batch:
    """Undo an applied, unpaid batch within the undo window, all or nothing (batch.md §4): a new
    batch (action `undo`, params {"undo_of": id, "action": code}) writes every stored before value
    in one transaction, with its own history rows; the original becomes `undone`.

    Raises DomainError with the reason undo_refusal() gives ("Undo unavailable: {k} numbers changed
    since (…)." and the others); BatchNotFound for an unknown id.
    """
    with write_transaction() as session:
        original = _load(session, batch_id)
        refusal = undo_refusal(actor, original, is_admin=is_admin)
        if refusal:
            raise DomainError(refusal)
        now = clock.now()
        batch = Batch(action=UNDO, params={"undo_of": original.id, "action": original.action},
                      selection={"batch": original.id}, status="applying", created_by=actor.user_id,
                      created_at=now)
        session.add(batch)
        session.flush()
        session.execute(sa.insert(BatchItem).from_select(
            ["batch_id", "number_id", "number", "outcome", "before", "after", "cost_minor", "version_before"],
            sa.select(sa.literal(batch.id), BatchItem.number_id, BatchItem.number, BatchItem.outcome,
                      BatchItem.after, BatchItem.before, sa.literal(0), BatchItem.version_after)
            .where(*_applied_items(original.id))))
        action_for(original).apply(batch.id, actor, now, f"Undo of {original.reference}")
        _count_outcomes(batch)
        batch.status, batch.applied_at = "applied", now
        original.status, original.undone_at, original.undone_by = "undone", now, actor.user_id
    return batch


# ---- reads for the pages ----------------------------------------------------------------------

def show_numbers(batch_id: int) -> str | None:
    """A saved list of the batch's changed numbers for /numbers?list=… (at most 10,000, the
    table's own limit); its token, or None when there are none or too many."""
    with write_transaction() as session:
        batch = _load(session, batch_id)
        if not 0 < batch.change_count <= search.MAX_ITEMS:
            return None
        numbers = session.scalars(sa.select(BatchItem.number).where(
            BatchItem.batch_id == batch.id, BatchItem.outcome == "change").order_by(BatchItem.number)).all()
        now, token = clock.now(), secrets.token_urlsafe(12)[:16]
        session.add(SavedList(token=token, items=list(numbers), raw_unrecognised=[], source="batch",
                              created_at=now, last_used_at=now))
    return token
