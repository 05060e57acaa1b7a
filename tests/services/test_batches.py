"""The batch engine (batch.md §2, §4, §5): outcomes and reasons of each action, confirm's re-check,
double confirm, expiry, excluding errors, undo, and parity with the single-number edits."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from did_app import audit, filters
from did_app.batches import engine
from did_app.batches.queries import shown
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import AuditEvent, Batch, BatchItem, Number, SavedList
from did_app.numbers.edits import update_number
from tests import factories as f

ACTOR = audit.Actor(None, "web", "ops@example.com")


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _fresh(number_id):
    db.session.expire_all()
    return db.session.get(Number, number_id)


def _items(batch_id):
    return {i.number: i for i in db.session.scalars(sa.select(BatchItem).where(BatchItem.batch_id == batch_id))}


def _preview(code, numbers, **params):
    return engine.preview(ACTOR, code, {"ids": [n.id for n in numbers]}, params)


def _row(number_id):
    n = _fresh(number_id)
    return {c.key: getattr(n, c.key) for c in Number.__table__.columns}


def _history(number_id):
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_id == number_id,
                                                          AuditEvent.object_type == "number")
                              .order_by(AuditEvent.id)).all()


# ---- outcomes and reasons ----------------------------------------------------------------------

def test_voice_route_outcomes_and_reasons(ctx):
    main = f.make_voice_trunk(name="sip-main")
    bare, routed, sms_only = f.make_number(), f.make_number(voice_route_id=main.id), f.make_number(features=("sms_in",))
    batch = _preview("voice_route", [bare, routed, sms_only], route_id=main.id)
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count, batch.error_count, batch.status) == (1, 2, 0, "previewed")
    assert items[bare.number].outcome == "change"
    assert items[bare.number].before["voice_route"] is None and items[bare.number].after["voice_route"] == "sip-main"
    assert items[routed.number].reason == "Already routed to sip-main"
    assert items[sms_only.number].reason == "No inbound voice"
    assert items[bare.number].version_before == 1
    assert _fresh(bare.id).voice_route_id is None  # a preview writes nothing to numbers


def test_unassigning_a_voice_route(ctx):
    main = f.make_voice_trunk(name="sip-main")
    bare, routed = f.make_number(), f.make_number(voice_route_id=main.id)
    batch = _preview("voice_route", [bare, routed], route_id=None)
    assert _items(batch.id)[bare.number].reason == "No voice route"
    engine.confirm(ACTOR, batch.id)
    assert _fresh(routed.id).voice_route_id is None and _fresh(routed.id).status == "not_configured"


def test_sms_route_outcomes(ctx):
    sms = f.make_sms_trunk(name="sms-main")
    voice_only, with_sms = f.make_number(), f.make_number(features=("voice_in", "sms_in"))
    batch = _preview("sms_route", [voice_only, with_sms], route_id=sms.id)
    items = _items(batch.id)
    assert items[voice_only.number].reason == "No inbound SMS" and items[with_sms.number].outcome == "change"
    assert batch.change_count == 1
    none = _preview("sms_route", [with_sms], route_id=None)
    assert _items(none.id)[with_sms.number].reason == "No SMS route"


def test_description_and_capacity_limit(ctx):
    a, b = f.make_number(description="Sales"), f.make_number(capacity_limit=10)
    batch = _preview("description", [a, b], text="  Sales ")
    assert _items(batch.id)[a.number].reason == "Already has this description"
    assert _items(batch.id)[b.number].outcome == "change"
    limit = _preview("capacity_limit", [a, b], limit=10)
    assert _items(limit.id)[b.number].reason == "Already 10" and _items(limit.id)[a.number].outcome == "change"
    cleared = _preview("capacity_limit", [a], limit=None)
    assert _items(cleared.id)[a.number].reason == "Already no limit"


@pytest.mark.parametrize("code,params,message,field", [
    ("description", {"text": "x" * 256}, "Description must be at most 255 characters.", "description"),
    ("capacity_limit", {"limit": 0}, "Enter a whole number from 1 to 32,767, or leave blank for no limit.",
     "capacity_limit"),
    ("voice_route", {"route_id": 999}, "That voice route no longer exists.", "route"),
    ("apply_profile", {"profile_id": 999}, "That profile does not exist.", "profile_id"),
    ("nonsense", {}, "Choose an action from the list.", "action"),
])
def test_inputs_are_refused_with_the_single_edit_messages(ctx, code, params, message, field):
    n = f.make_number()
    with pytest.raises(DomainError) as err:
        _preview(code, [n], **params)
    assert (err.value.message, err.value.field) == (message, field)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 0


def test_profile_sets_each_field_separately(ctx):
    trunk, pool_de = f.make_voice_trunk(name="sip-main"), f.make_pool(countries=("DE",), name="eu")
    group = f.make_capacity_group(pool=pool_de, name="shared-eu")
    profile = profiles_service.create_profile(ACTOR, name="Std", voice_route_id=trunk.id,
                                              capacity_group_id=group.id, description="Std line")
    us, matching = f.make_number(), f.make_number(country="DE", voice_route_id=trunk.id, description="Std line",
                                                  capacity_group_id=group.id)
    sms_only = f.make_number(features=("sms_in",), country="DE", description="Std line", capacity_group_id=group.id)
    batch = _preview("apply_profile", [us, matching, sms_only], profile_id=profile.id)
    items = _items(batch.id)
    assert items[us.number].outcome == "change"
    assert items[us.number].reason == "Capacity group shared-eu uses pool eu, which does not cover US."
    assert items[matching.number].reason == "Already matches profile"
    assert items[sms_only.number].reason == "This number does not support inbound voice."
    engine.confirm(ACTOR, batch.id)
    n = _fresh(us.id)
    assert (n.voice_route_id, n.capacity_group_id, n.description) == (trunk.id, None, "Std line")
    assert _history(us.id)[-1].note == "Profile Std applied"


def test_a_filter_selection_uses_the_table_filter(ctx):
    trunk = f.make_voice_trunk(name="sip-main")
    de = [f.make_number(country="DE") for _ in range(3)]
    f.make_number(country="US")
    batch = engine.preview(ACTOR, "voice_route", {"filter": "status=not_configured&country=DE"}, {"route_id": trunk.id})
    assert batch.change_count == 3 and set(_items(batch.id)) == {n.number for n in de}


def test_more_than_10000_ids_are_refused(ctx):
    with pytest.raises(DomainError) as err:
        engine.preview(ACTOR, "description", {"ids": list(range(1, 10_002))}, {"text": "x"})
    assert err.value.message == "Select at most 10,000 rows one by one; use 'Select all matching' for more."


# ---- confirm ----------------------------------------------------------------------------------

def test_confirm_applies_with_history_and_versions(ctx):
    trunk = f.make_voice_trunk(name="sip-main")
    numbers = [f.make_number() for _ in range(3)]
    batch = _preview("voice_route", numbers, route_id=trunk.id)
    engine.confirm(ACTOR, batch.id)
    assert db.session.get(Batch, batch.id).status == "applied"
    for n in numbers:
        fresh = _fresh(n.id)
        assert (fresh.voice_route_id, fresh.status, fresh.version) == (trunk.id, "active", 2)
        row = _history(n.id)[-1]
        assert (row.batch_id, row.before, row.after) == (batch.id, {"voice_route": None}, {"voice_route": "sip-main"})
        assert _items(batch.id)[n.number].version_after == 2


def test_a_stale_preview_is_refused_and_previewed_again(ctx):
    trunk, other = f.make_voice_trunk(name="sip-main"), f.make_voice_trunk(name="sip-b")
    a, b = f.make_number(), f.make_number()
    batch = _preview("voice_route", [a, b], route_id=trunk.id)
    update_number(ACTOR, a.id, 1, voice_route_id=other.id)  # an inline edit after the preview
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "1 numbers changed since the preview. Review again."
    assert _fresh(b.id).voice_route_id is None  # nothing written
    batch = db.session.get(Batch, batch.id)
    assert batch.status == "previewed" and batch.change_count == 2  # fresh items: a now moves from sip-b
    assert _items(batch.id)[a.number].before["voice_route"] == "sip-b"
    engine.confirm(ACTOR, batch.id)
    assert _fresh(a.id).voice_route_id == trunk.id


def test_a_renewal_field_does_not_make_the_preview_stale(ctx):
    trunk = f.make_voice_trunk()
    n = f.make_number()
    batch = _preview("voice_route", [n], route_id=trunk.id)
    db.session.execute(sa.update(Number).where(Number.id == n.id).values(  # as the renewals job moves it
        expires_at=n.expires_at + timedelta(days=30), version=Number.version + 1))
    db.session.commit()
    engine.confirm(ACTOR, batch.id)
    assert _fresh(n.id).voice_route_id == trunk.id


def test_a_second_confirm_is_refused(ctx):
    trunk = f.make_voice_trunk()
    batch = _preview("voice_route", [f.make_number()], route_id=trunk.id)
    engine.confirm(ACTOR, batch.id)
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "This batch is already being applied."
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.batch_id == batch.id)) == 1


def test_a_preview_expires_after_30_minutes(ctx, clock):
    trunk = f.make_voice_trunk()
    n = f.make_number()
    batch = _preview("voice_route", [n], route_id=trunk.id)
    clock.advance(minutes=31)
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "This preview has expired. Preview again."
    assert db.session.get(Batch, batch.id).status == "expired" and _fresh(n.id).voice_route_id is None


def test_errors_block_confirm_until_excluded(ctx):
    trunk = f.make_voice_trunk(name="gone-soon")
    a, b = f.make_number(), f.make_number(features=("sms_in",))
    batch = _preview("voice_route", [a, b], route_id=trunk.id)
    db.session.delete(db.session.get(type(trunk), trunk.id))
    db.session.commit()
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)  # the re-check sees the route gone: previewed again, with an error
    assert err.value.message == "1 numbers changed since the preview. Review again."
    batch = db.session.get(Batch, batch.id)
    assert batch.error_count == 1 and _items(batch.id)[a.number].reason == "That voice route no longer exists."
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "Resolve the 1 errors or exclude them."
    batch = engine.exclude_errors(ACTOR, batch.id)
    assert (batch.change_count, batch.skip_count, batch.error_count) == (0, 2, 0)
    assert _items(batch.id)[a.number].reason == "Excluded after error"
    assert _items(batch.id)[b.number].reason == "No inbound voice"


# ---- undo -------------------------------------------------------------------------------------

def test_undo_restores_every_field_and_writes_history(ctx):
    trunk, old = f.make_voice_trunk(name="sip-main"), f.make_voice_trunk(name="sip-old")
    group = f.make_capacity_group(name="shared")
    profile = profiles_service.create_profile(ACTOR, name="Std", voice_route_id=trunk.id, capacity_group_id=group.id,
                                              capacity_limit=5, description="Std")
    numbers = [f.make_number(voice_route_id=old.id, description="Mine"), f.make_number()]
    rows = {n.id: _row(n.id) for n in numbers}
    batch = _preview("apply_profile", numbers, profile_id=profile.id)
    engine.confirm(ACTOR, batch.id)
    undo = engine.undo(ACTOR, batch.id)
    assert db.session.get(Batch, batch.id).status == "undone"
    assert (undo.action, undo.params["undo_of"], undo.change_count, undo.status) == ("undo", batch.id, 2, "applied")
    for n in numbers:
        after = _row(n.id)
        assert after.pop("version") == rows[n.id].pop("version") + 2
        for key in ("updated_at", "updated_by"):
            after.pop(key), rows[n.id].pop(key)
        assert after == rows[n.id]
        last = _history(n.id)[-1]
        assert last.batch_id == undo.id and last.note == f"Undo of {batch.reference}"
    assert _history(numbers[0].id)[-1].after == {"voice_route": "sip-old", "capacity_group": None,
                                                 "capacity_limit": None, "description": "Mine"}
    with pytest.raises(DomainError) as err:
        engine.undo(ACTOR, undo.id)
    assert err.value.message == "An undo can't be undone."


def test_undo_is_refused_when_a_number_changed(ctx):
    trunk = f.make_voice_trunk()
    numbers = [f.make_number() for _ in range(7)]
    batch = _preview("voice_route", numbers, route_id=trunk.id)
    engine.confirm(ACTOR, batch.id)
    for n in numbers[:6]:
        update_number(ACTOR, n.id, 2, voice_route_id=None)
    with pytest.raises(DomainError) as err:
        engine.undo(ACTOR, batch.id)
    first = sorted(n.number for n in numbers[:6])[:5]
    assert err.value.message == f"Undo unavailable: 6 numbers changed since ({', '.join(first)}…)."
    assert db.session.get(Batch, batch.id).status == "applied"


def test_undo_window_and_who(ctx, clock):
    trunk = f.make_voice_trunk()
    batch = _preview("voice_route", [f.make_number()], route_id=trunk.id)
    engine.confirm(ACTOR, batch.id)
    stranger = audit.Actor(None, "web", "other@example.com")
    stranger.user_id = 424242
    ACTOR.user_id = None
    assert engine.undo_refusal(stranger, db.session.get(Batch, batch.id)) == \
        "Only the person who ran this batch or an admin can undo it."
    assert engine.undo_refusal(stranger, db.session.get(Batch, batch.id), is_admin=True) is None
    clock.advance(hours=24)
    assert engine.undo_refusal(ACTOR, db.session.get(Batch, batch.id)) == \
        "Undo was available for 24 hours after the batch applied."


# ---- parity with the single-number edit -------------------------------------------------------

@pytest.mark.parametrize("code,params,changes", [
    ("voice_route", "trunk", "voice_route_id"),
    ("description", {"text": "Front desk"}, {"description": "Front desk"}),
    ("capacity_limit", {"limit": 12}, {"capacity_limit": 12}),
])
def test_a_one_number_batch_writes_what_the_single_edit_writes(ctx, code, params, changes):
    trunk = f.make_voice_trunk(name="sip-main")
    if params == "trunk":
        params, changes = {"route_id": trunk.id}, {"voice_route_id": trunk.id}
    single, batched = f.make_number(), f.make_number()
    update_number(ACTOR, single.id, 1, **changes)
    batch = _preview(code, [batched], **params)
    engine.confirm(ACTOR, batch.id)
    _compare(single, batched, batch)


def test_a_one_number_profile_batch_writes_what_the_single_apply_writes(ctx):
    trunk = f.make_voice_trunk(name="sip-main")
    profile = profiles_service.create_profile(ACTOR, name="Std", voice_route_id=trunk.id, description="Std")
    single, batched = f.make_number(), f.make_number()
    profiles_service.apply_profile(ACTOR, single.id, profile.id)
    batch = _preview("apply_profile", [batched], profile_id=profile.id)
    engine.confirm(ACTOR, batch.id)
    _compare(single, batched, batch)


def _compare(single, batched, batch):
    ignore = {"id", "number", "updated_at"}
    a, b = _row(single.id), _row(batched.id)
    assert {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}
    (ha,), (hb,) = _history(single.id), _history(batched.id)
    keys = ("action", "object_type", "before", "after", "note", "actor_label", "source")
    assert {k: getattr(ha, k) for k in keys} == {k: getattr(hb, k) for k in keys}
    assert (ha.batch_id, hb.batch_id) == (None, batch.id)


def test_show_these_numbers_saves_a_list(ctx):
    trunk = f.make_voice_trunk()
    numbers = [f.make_number() for _ in range(2)]
    batch = _preview("voice_route", numbers, route_id=trunk.id)
    engine.confirm(ACTOR, batch.id)
    token = engine.show_numbers(batch.id)
    saved = db.session.scalar(sa.select(SavedList).where(SavedList.token == token))
    assert sorted(saved.items) == sorted(n.number for n in numbers) and saved.source == "batch"


def test_stored_timestamps_read_as_times_on_the_pages(ctx):
    """A cancel's item stores `cancelled_at` as JSON text; the preview shows it as every page shows a time."""
    assert shown("2026-11-28 12:00:00.000000") == filters.fmt_datetime(datetime(2026, 11, 28, 12, tzinfo=timezone.utc))
    assert shown("2026-11-28T12:00:00+00:00") == filters.fmt_datetime(datetime(2026, 11, 28, 12, tzinfo=timezone.utc))
    assert shown("Front desk") == "Front desk" and shown(12) == 12 and shown(None) is None
