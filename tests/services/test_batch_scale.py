"""Batches at scale (batch.md §2 confirm, §5; quality-bars.md R3): a failure injected in the middle
of a 10,000-number apply writes nothing, two tabs confirming apply once, chunked applies on SQLite
(failed with an undoable applied part), background applies with progress, and recovery of an
apply a crash left `applying`. Runs on SQLite and, with DATABASE_URL, on PostgreSQL."""
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from did_app import audit, clock, scheduler
from did_app.batches import engine
from did_app.batches.actions.base import Action
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import AuditEvent, Batch, BatchItem, LedgerEntry, Number
from did_app.numbers.edits import update_number
from did_app.rules import status
from tests import factories as f

ACTOR = audit.Actor(None, "web", "ops@example.com")


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _on_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def _bulk_numbers(count: int, area: str = "212") -> list[int]:
    """`count` live US numbers without routes, inserted set-based (the factory commits one by one)."""
    now = clock.now()
    rows = [dict(number=f"+1{area}{i:07d}", country="US", region="NY", city="New York", number_type="local",
                 features=1, capacity_mode="two_included", channels_included=2, monthly_price_minor=150,
                 expires_at=now + timedelta(days=20)) for i in range(count)]
    db.session.execute(sa.insert(Number), rows)
    status.recompute(Number.number.like(f"+1{area}%"))
    db.session.commit()
    return db.session.scalars(sa.select(Number.id).where(Number.number.like(f"+1{area}%")).order_by(Number.id)).all()


def _preview_route(ids, trunk):
    return engine.preview(ACTOR, "voice_route", {"ids": list(ids)}, {"route_id": trunk.id})


def _routed(trunk) -> int:
    db.session.rollback()  # a fresh read: another thread may have committed since
    return db.session.scalar(sa.select(sa.func.count()).select_from(Number).where(Number.voice_route_id == trunk.id))


def _history_rows(batch_id=None) -> int:
    where = AuditEvent.batch_id.is_not(None) if batch_id is None else AuditEvent.batch_id == batch_id
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(where))


def _versions() -> int:
    return db.session.scalar(sa.select(sa.func.sum(Number.version)))


def _batch(batch_id) -> Batch:
    db.session.rollback()  # a fresh read: another thread may have committed since
    return db.session.get(Batch, batch_id)


# ---- R3: a failure in the middle of a 10,000-number apply ----------------------------------------

@pytest.mark.parametrize("where", ["history", "status"])
def test_a_failure_in_the_middle_of_10000_numbers_writes_nothing(ctx, monkeypatch, where):
    trunk = f.make_voice_trunk(name="sip-main")
    ids = _bulk_numbers(10_000)
    batch = _preview_route(ids, trunk)
    assert batch.change_count == 10_000
    versions, ledger = _versions(), db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))

    def broken(*args, **kwargs):
        # the numbers' UPDATE has run in this transaction: the failure must take it back
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Number).where(
            Number.voice_route_id == trunk.id)) == 10_000
        raise RuntimeError("injected failure")

    if where == "history":  # the history INSERT … SELECT
        monkeypatch.setattr(Action, "write_history", broken)
    else:  # the status recompute right after the UPDATE
        monkeypatch.setattr(status, "recompute", broken)
    with pytest.raises(RuntimeError):
        engine.confirm(ACTOR, batch.id)
    db.session.rollback()
    assert _routed(trunk) == 0 and _versions() == versions
    assert _history_rows() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == ledger
    assert _batch(batch.id).status == "previewed"  # the preview stands and can be confirmed again
    monkeypatch.undo()
    engine.confirm(ACTOR, batch.id)
    assert _routed(trunk) == 10_000 and _history_rows(batch.id) == 10_000


def test_two_tabs_confirming_the_same_preview_apply_it_once(ctx, app):
    trunk = f.make_voice_trunk(name="sip-main")
    batch_id = _preview_route(_bulk_numbers(2_000), trunk).id  # the main session's objects stay here
    start, results = threading.Barrier(2), []

    def tab():
        with app.app_context():
            start.wait()
            try:
                engine.confirm(ACTOR, batch_id)
                results.append("applied")
            except DomainError as err:
                results.append(err.message)
            except Exception as err:  # noqa: BLE001 (the assertion below shows it)
                results.append(repr(err))
            finally:
                db.session.remove()

    tabs = [threading.Thread(target=tab) for _ in range(2)]
    for t in tabs:
        t.start()
    for t in tabs:
        t.join(60)
    db.session.rollback()
    assert sorted(results) == ["This batch is already being applied.", "applied"]
    assert _history_rows(batch_id) == 2_000 and _batch(batch_id).status == "applied"
    assert db.session.scalar(sa.select(sa.func.max(Number.version)).where(Number.voice_route_id == trunk.id)) == 2


def test_an_inline_edit_makes_a_large_preview_stale(ctx, app):
    app.config.update(BATCH_CHUNK_SIZE=3, BATCH_INLINE_MAX=100)
    trunk, other = f.make_voice_trunk(name="sip-main"), f.make_voice_trunk(name="sip-b")
    ids = _bulk_numbers(10)
    batch = _preview_route(ids, trunk)
    update_number(ACTOR, ids[-1], 1, voice_route_id=other.id)  # in the last chunk: the first re-checks all
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "1 numbers changed since the preview. Review again."
    assert _routed(trunk) == 0 and _batch(batch.id).status == "previewed"


# ---- chunked applies on SQLite (batch.md §5) ---------------------------------------------------

def test_a_large_apply_on_sqlite_runs_in_chunks(ctx, app, monkeypatch):
    app.config.update(BATCH_CHUNK_SIZE=3, BATCH_INLINE_MAX=100)
    trunk = f.make_voice_trunk(name="sip-main")
    batch = _preview_route(_bulk_numbers(10), trunk)
    seen = []
    real = Action.apply

    def watch(self, *args):
        seen.append(_batch(batch.id).status)  # still applying while chunks remain
        real(self, *args)

    monkeypatch.setattr(Action, "apply", watch)
    engine.confirm(ACTOR, batch.id)
    assert len(seen) == (4 if _on_sqlite() else 1) and set(seen) == {"applying"}
    assert _routed(trunk) == 10 and _history_rows(batch.id) == 10
    assert _batch(batch.id).status == "applied" and engine.applied_count(batch.id) == 10


@contextmanager
def _failing_on(monkeypatch, call: int):
    """Action.apply raises on its `call`-th call (1-based), after doing its work."""
    calls, real = [], Action.apply

    def apply(self, *args):
        calls.append(1)
        real(self, *args)
        if len(calls) == call:
            raise RuntimeError("injected failure")

    monkeypatch.setattr(Action, "apply", apply)
    yield
    monkeypatch.setattr(Action, "apply", real)


def test_a_failure_between_chunks_leaves_a_failed_batch_whose_applied_part_can_be_undone(ctx, app, monkeypatch):
    app.config.update(BATCH_CHUNK_SIZE=3, BATCH_INLINE_MAX=100)
    trunk = f.make_voice_trunk(name="sip-main")
    batch = _preview_route(_bulk_numbers(10), trunk)
    with _failing_on(monkeypatch, 3 if _on_sqlite() else 1), pytest.raises(RuntimeError):
        engine.confirm(ACTOR, batch.id)
    db.session.rollback()
    failed = _batch(batch.id)
    if not _on_sqlite():  # one transaction on PostgreSQL: nothing written, the preview stands
        assert failed.status == "previewed" and _routed(trunk) == 0 and _history_rows() == 0
        return
    assert failed.status == "failed" and _routed(trunk) == 6 and _history_rows(batch.id) == 6
    assert failed.message == "An error stopped the apply. 6 of 10 numbers were applied; the other 4 are unchanged."
    assert engine.applied_count(batch.id) == 6
    assert engine.undo_refusal(ACTOR, failed) is None
    undo = engine.undo(ACTOR, batch.id)
    assert undo.change_count == 6 and _routed(trunk) == 0 and _history_rows(undo.id) == 6
    assert _batch(batch.id).status == "undone"


def test_a_number_changed_between_chunks_fails_the_rest(ctx, app, monkeypatch):
    if not _on_sqlite():
        pytest.skip("PostgreSQL applies in one transaction")
    app.config.update(BATCH_CHUNK_SIZE=3, BATCH_INLINE_MAX=100)
    trunk, other = f.make_voice_trunk(name="sip-main"), f.make_voice_trunk(name="sip-b")
    ids = _bulk_numbers(10)
    batch = _preview_route(ids, trunk)
    calls, real = [], engine.write_transaction

    @contextmanager
    def edit_before_the_second_chunk():
        calls.append(1)
        if len(calls) == 3:  # the claim, chunk 1, then an inline edit lands before chunk 2
            update_number(ACTOR, ids[4], 1, voice_route_id=other.id)
        with real() as session:
            yield session

    monkeypatch.setattr(engine, "write_transaction", edit_before_the_second_chunk)
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "1 numbers changed since the preview. Review again."
    failed = _batch(batch.id)
    assert failed.status == "failed" and _routed(trunk) == 3
    assert failed.message.endswith("3 of 10 numbers were applied; the other 7 are unchanged.")


# ---- background applies and recovery -------------------------------------------------------------

def test_a_batch_above_the_inline_limit_applies_in_the_background(ctx, app):
    app.config.update(BATCH_CHUNK_SIZE=3, BATCH_INLINE_MAX=5)
    trunk = f.make_voice_trunk(name="sip-main")
    batch = _preview_route(_bulk_numbers(10), trunk)
    returned = engine.confirm(ACTOR, batch.id)
    assert returned.id == batch.id
    engine.wait_for_background(batch.id, 60)
    assert _batch(batch.id).status == "applied" and _routed(trunk) == 10
    assert engine.progress(batch.id) == (10, 10)


def test_a_stale_batch_above_the_inline_limit_is_refused_in_the_request(ctx, app):
    app.config.update(BATCH_INLINE_MAX=5)
    trunk, other = f.make_voice_trunk(name="sip-main"), f.make_voice_trunk(name="sip-b")
    ids = _bulk_numbers(10)
    batch = _preview_route(ids, trunk)
    update_number(ACTOR, ids[0], 1, voice_route_id=other.id)
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "1 numbers changed since the preview. Review again."
    assert _batch(batch.id).status == "previewed" and _routed(trunk) == 0


def _crashed_batch(trunk, applied: int, area: str = "212") -> Batch:
    """A batch as a crash leaves it: `applying`, its first `applied` items written long ago."""
    batch = _preview_route(_bulk_numbers(10, area), trunk)
    items = db.session.scalars(sa.select(BatchItem.id).where(BatchItem.batch_id == batch.id)
                               .order_by(BatchItem.id)).all()
    db.session.execute(sa.update(BatchItem).where(BatchItem.id.in_(items[:applied])).values(version_after=2))
    db.session.execute(sa.update(Batch).where(Batch.id == batch.id).values(
        status="applying", applied_at=clock.now() - timedelta(minutes=10)))
    db.session.commit()
    return batch


def test_a_batch_left_applying_by_a_crash_is_failed_on_the_next_start(ctx, app, monkeypatch):
    trunk = f.make_voice_trunk(name="sip-main")
    batch = _crashed_batch(trunk, 4)
    monkeypatch.setattr(engine, "_recovered", False)  # a new process
    with app.test_client() as client:
        client.get("/login")
    failed = _batch(batch.id)
    assert failed.status == "failed"
    assert failed.message == "The apply was interrupted. 4 of 10 numbers were applied; the other 6 are unchanged."


def test_flask_tick_and_the_scheduler_start_fail_a_crashed_batch(ctx, app):
    """The jobs' own start (`flask scheduler`, the in-process scheduler) and every `flask tick`
    check too, so a crash is noticed without waiting for a web request."""
    trunk = f.make_voice_trunk(name="sip-main")
    by_tick, by_start = _crashed_batch(trunk, 4), _crashed_batch(trunk, 0, area="646")
    moving = _crashed_batch(trunk, 2, area="718")
    db.session.execute(sa.update(Batch).where(Batch.id == moving.id).values(applied_at=clock.now()))
    db.session.commit()
    db.session.execute(sa.update(Batch).where(Batch.id == by_start.id).values(status="previewed"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["tick"])
    assert result.exit_code == 0, result.output
    assert "batch" not in result.output  # a check, not a job: tick prints the jobs' lines only
    assert _batch(by_tick.id).status == "failed" and _batch(moving.id).status == "applying"
    db.session.execute(sa.update(Batch).where(Batch.id == by_start.id).values(status="applying"))
    db.session.commit()
    scheduler.register_jobs(BackgroundScheduler(timezone="UTC"), app, run_now=True)
    assert _batch(by_start.id).status == "failed"
    assert _batch(by_start.id).message.startswith("The apply was interrupted. 0 of 10 numbers")
    assert _batch(moving.id).status == "applying"


def test_an_apply_still_making_progress_is_not_failed(ctx, app):
    trunk = f.make_voice_trunk(name="sip-main")
    batch = _crashed_batch(trunk, 4)
    db.session.execute(sa.update(Batch).where(Batch.id == batch.id).values(applied_at=clock.now()))
    db.session.commit()
    assert engine.recover_interrupted() == 0
    assert _batch(batch.id).status == "applying"
    assert engine.progress(batch.id) == (4, 10)


# ---- over HTTP: the summary page polls the progress of a background apply ------------------------

def test_the_summary_page_shows_progress_and_then_the_summary(app, client):
    from tests.conftest import csrf_from, login
    app.config.update(BATCH_CHUNK_SIZE=3, BATCH_INLINE_MAX=5)
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        batch_id = _preview_route(_bulk_numbers(10), trunk).id
        crashed = _crashed_batch(trunk, 0, area="646").id
        db.session.execute(sa.update(Batch).where(Batch.id == crashed).values(applied_at=clock.now()))
        db.session.commit()
    login(client, "operator")
    # an apply in progress (another worker's): the page shows the bar, polled once a second
    page = client.get(f"/batches/{crashed}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in page and "0 of 10 numbers applied." in page and "<progress" in page
    poll = client.get(f"/batches/{crashed}/progress", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and 'id="batch-progress"' in poll.get_data(as_text=True)
    assert client.get(f"/batches/{crashed}/progress").status_code == 303  # not htmx: the page itself
    token = csrf_from(client.get(f"/batches/{batch_id}").get_data(as_text=True))
    confirmed = client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": token})
    assert confirmed.status_code == 303
    with app.app_context():
        engine.wait_for_background(batch_id, 60)
    done = client.get(f"/batches/{batch_id}/progress", headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"].endswith(f"/batches/{batch_id}")
    summary = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    assert "Applying 10 numbers…" in summary and "Applied" in summary and "10 changed" in summary
