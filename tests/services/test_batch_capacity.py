"""Capacity batch actions (batch.md §3): capacity group, dedicated channels, next capacity mode and
assign end-user details: outcomes, skips, batch errors, undo, and parity with the single edit."""
import pytest
import sqlalchemy as sa

from did_app import audit
from did_app.batches import engine
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import AuditEvent, Batch, BatchItem, Number
from did_app.numbers.edits import KEEP_PRICE, update_number
from did_app.registration import identities
from tests import factories as f
from tests.services.test_assignments import ready_identity

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


def _undo_restores(numbers, batch):
    rows = {n.id: _row(n.id) for n in numbers}
    engine.confirm(ACTOR, batch.id)
    undo = engine.undo(ACTOR, batch.id)
    for n in numbers:
        after, before = _row(n.id), rows[n.id]
        for key in ("version", "updated_at", "updated_by"):
            after.pop(key), before.pop(key)
        assert after == before
    return undo


# ---- capacity group ---------------------------------------------------------------------------

def test_capacity_group_outcomes_and_skips(ctx):
    pool = f.make_pool(name="eu-pool", countries=("US",))
    group = f.make_capacity_group(pool=pool, name="shared")
    free, member = f.make_number(), f.make_number(capacity_group_id=group.id)
    locked_out = f.make_number(allow_additional_channels=False)
    foreign = f.make_number(country="DE", number="+4930123456")
    batch = _preview("capacity_group", [free, member, locked_out, foreign], group_id=group.id)
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count, batch.error_count, batch.message) == (1, 3, 0, None)
    assert items[free.number].after["capacity_group"] == "shared"
    assert items[member.number].reason == "Already in shared"
    assert items[locked_out.number].reason == "Cannot take additional channels"
    assert items[foreign.number].reason == "Pool eu-pool does not cover DE"
    assert engine.ACTIONS["capacity_group"].confirmation(1, batch.params) == \
        "Move 1 numbers into capacity group shared?"
    engine.confirm(ACTOR, batch.id)
    assert _fresh(free.id).capacity_group_id == group.id


def test_taking_numbers_out_of_groups_and_undo(ctx):
    group = f.make_capacity_group(name="shared")
    member, bare = f.make_number(capacity_group_id=group.id), f.make_number()
    batch = _preview("capacity_group", [member, bare], group_id=None)
    assert _items(batch.id)[bare.number].reason == "Not in a group"
    assert engine.ACTIONS["capacity_group"].confirmation(1, batch.params) == \
        "Take 1 numbers out of their capacity groups?"
    _undo_restores([member, bare], batch)
    assert _fresh(member.id).capacity_group_id == group.id


def test_a_one_number_group_batch_writes_what_the_single_edit_writes(ctx):
    group = f.make_capacity_group(name="shared")
    single, batched = f.make_number(), f.make_number()
    update_number(ACTOR, single.id, 1, capacity_group_id=group.id)
    batch = _preview("capacity_group", [batched], group_id=group.id)
    engine.confirm(ACTOR, batch.id)
    ignore = {"id", "number", "updated_at"}
    a, b = _row(single.id), _row(batched.id)
    assert {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}
    (ha,), (hb,) = _history(single.id), _history(batched.id)
    keys = ("action", "object_type", "before", "after", "note", "actor_label", "source")
    assert {k: getattr(ha, k) for k in keys} == {k: getattr(hb, k) for k in keys}
    assert (ha.batch_id, hb.batch_id) == (None, batch.id)


def test_a_deleted_group_is_refused_at_preview(ctx):
    with pytest.raises(DomainError) as err:
        _preview("capacity_group", [f.make_number()], group_id=987654)
    assert (err.value.message, err.value.field) == ("That capacity group no longer exists.", "group")


# ---- dedicated channels -----------------------------------------------------------------------

def test_dedicated_outcomes_skips_and_net(ctx):
    pool = f.make_pool(name="p1", total=20)
    holder = f.make_number(dedicated_channels=3, capacity_pool_id=pool.id)
    same = f.make_number(dedicated_channels=4, capacity_pool_id=pool.id)
    bare, locked_out = f.make_number(), f.make_number(allow_additional_channels=False)
    foreign = f.make_number(country="DE", number="+4930123457")
    batch = _preview("dedicated", [holder, same, bare, locked_out, foreign], pool_id=pool.id, count=4)
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count, batch.message) == (2, 3, None)
    assert items[same.number].reason == "Already 4"
    assert items[locked_out.number].reason == "Cannot take additional channels"
    assert items[foreign.number].reason == "Pool p1 does not cover DE"
    assert items[bare.number].after == {"dedicated_channels": 4, "capacity_pool_id": pool.id, "capacity_pool": "p1",
                                        "allow_additional_channels": True, "country": "US"}
    assert engine.ACTIONS["dedicated"].confirmation(2, db.session.get(Batch, batch.id).params) == \
        "Give 2 numbers 4 dedicated channels each from pool p1 (net 5 channels)?"
    engine.confirm(ACTOR, batch.id)
    assert (_fresh(bare.id).dedicated_channels, _fresh(bare.id).capacity_pool_id) == (4, pool.id)


def test_a_pool_short_of_channels_is_a_batch_error(ctx):
    pool = f.make_pool(name="p1", total=5)
    numbers = [f.make_number() for _ in range(3)]
    batch = _preview("dedicated", numbers, pool_id=pool.id, count=2)
    assert batch.message == "Pool p1 has 5 unassigned channels; this change needs 6."
    with pytest.raises(DomainError):
        engine.confirm(ACTOR, batch.id)
    assert _fresh(numbers[0].id).dedicated_channels == 0


def test_the_pool_is_checked_again_when_the_batch_applies(ctx):
    pool = f.make_pool(name="p1", total=6)
    numbers = [f.make_number() for _ in range(3)]
    batch = _preview("dedicated", numbers, pool_id=pool.id, count=2)
    assert batch.message is None
    f.make_capacity_group(pool=pool, shared=1)  # takes one channel after the preview
    with pytest.raises(DomainError) as err:
        engine.confirm(ACTOR, batch.id)
    assert err.value.message == "Pool p1 has 5 unassigned channels; this change needs 6."
    assert db.session.get(Batch, batch.id).status == "previewed"
    assert _fresh(numbers[0].id).dedicated_channels == 0


def test_releasing_channels_clears_the_pool_and_undo_needs_channels(ctx):
    pool = f.make_pool(name="p1", total=4)
    holder, bare = f.make_number(dedicated_channels=4, capacity_pool_id=pool.id), f.make_number()
    batch = _preview("dedicated", [holder, bare], pool_id=None, count=0)
    assert _items(batch.id)[bare.number].reason == "Already 0"
    engine.confirm(ACTOR, batch.id)
    assert (_fresh(holder.id).dedicated_channels, _fresh(holder.id).capacity_pool_id) == (0, None)
    f.make_capacity_group(pool=pool, shared=2)  # the freed channels are partly taken
    assert engine.undo_refusal(ACTOR, db.session.get(Batch, batch.id)) == \
        "Pool p1 has 2 unassigned channels; undo needs 4."
    with pytest.raises(DomainError):
        engine.undo(ACTOR, batch.id)


def test_dedicated_undo_restores_every_field(ctx):
    p1, p2 = f.make_pool(name="p1"), f.make_pool(name="p2")
    numbers = [f.make_number(dedicated_channels=2, capacity_pool_id=p2.id), f.make_number()]
    batch = _preview("dedicated", numbers, pool_id=p1.id, count=3)
    _undo_restores(numbers, batch)


def test_a_one_number_dedicated_batch_writes_what_the_single_edit_writes(ctx):
    pool = f.make_pool(name="p1")
    single, batched = f.make_number(), f.make_number()
    update_number(ACTOR, single.id, 1, dedicated_channels=3, capacity_pool_id=pool.id)
    batch = _preview("dedicated", [batched], pool_id=pool.id, count=3)
    engine.confirm(ACTOR, batch.id)
    (ha,), (hb,) = _history(single.id), _history(batched.id)
    assert (ha.before, ha.after) == (hb.before, hb.after)


@pytest.mark.parametrize("params,message,field", [
    ({"pool_id": None, "count": 2}, "Choose the pool the channels come from.", "pool_id"),
    ({"pool_id": 987654, "count": 2}, "That capacity pool no longer exists.", "pool_id"),
    ({"pool_id": None, "count": 40000}, "Enter a whole number of channels from 0 to 32,767.", "count"),
])
def test_dedicated_inputs_are_refused(ctx, params, message, field):
    with pytest.raises(DomainError) as err:
        _preview("dedicated", [f.make_number()], **params)
    assert (err.value.message, err.value.field) == (message, field)


# ---- next capacity mode -----------------------------------------------------------------------

def test_next_mode_outcomes_and_skips(ctx):
    plain = f.make_number()
    pending = f.make_number(next_capacity_mode="zero_included", next_monthly_price_minor=90)
    fixed = f.make_number(number_type="toll_free", capacity_mode="fixed")
    batch = _preview("next_mode", [plain, pending, fixed], mode="zero_included", price_minor=90)
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count) == (1, 2)
    assert items[pending.number].reason == "Already 0 included"
    assert items[fixed.number].reason == "Capacity mode can't change"
    engine.confirm(ACTOR, batch.id)
    n = _fresh(plain.id)
    assert (n.next_capacity_mode, n.next_monthly_price_minor) == ("zero_included", 90)


def test_next_mode_keeps_each_numbers_price_and_clear_and_undo(ctx):
    a, b = f.make_number(monthly_price_minor=150), f.make_number(monthly_price_minor=300)
    batch = _preview("next_mode", [a, b], mode="zero_included", price_minor=KEEP_PRICE)
    engine.confirm(ACTOR, batch.id)
    assert (_fresh(a.id).next_monthly_price_minor, _fresh(b.id).next_monthly_price_minor) == (150, 300)
    bare = f.make_number()
    clear = _preview("next_mode", [a, bare], mode=None)
    assert _items(clear.id)[bare.number].reason == "Nothing pending"
    assert engine.ACTIONS["next_mode"].confirmation(1, clear.params) == "Clear the pending mode change on 1 numbers?"
    _undo_restores([a, bare], clear)
    assert _fresh(a.id).next_capacity_mode == "zero_included"


def test_a_one_number_next_mode_batch_writes_what_the_single_edit_writes(ctx):
    single, batched = f.make_number(), f.make_number()
    update_number(ACTOR, single.id, 1, next_capacity_mode="zero_included", next_monthly_price_minor=120)
    batch = _preview("next_mode", [batched], mode="zero_included", price_minor=120)
    engine.confirm(ACTOR, batch.id)
    (ha,), (hb,) = _history(single.id), _history(batched.id)
    assert (ha.before, ha.after) == (hb.before, hb.after)


# ---- assign end-user details ------------------------------------------------------------------

def _awaiting(number, **kw):
    values = dict(number=number, country="DE", region="Berlin", city="Berlin", number_type="local",
                  needs_registration=True, awaiting_registration=True)
    return f.make_number(**{**values, **kw})


def test_assign_details_outcomes_apply_and_history(ctx):
    identity, address = ready_identity()
    ready = [_awaiting(f"+4930300{i:03d}") for i in range(3)]
    live = f.make_number()
    in_review = _awaiting("+4930300999", verification_request_id=f.make_verification_request(
        reference="VR-000777", country="DE").id)
    batch = _preview("assign_details", [*ready, live, in_review], identity_id=identity.id, address_id=address.id,
                     service_description=None)
    items = _items(batch.id)
    assert (batch.change_count, batch.skip_count, batch.error_count, batch.message) == (3, 2, 0, None)
    assert items[live.number].reason == "Not awaiting registration"
    assert items[in_review.number].reason == "Already in review (VR-000777)"
    assert engine.ACTIONS["assign_details"].confirmation(3, batch.params) == \
        f"Submit 3 numbers for verification with Ada Lovelace, {address.one_line}?"
    engine.confirm(ACTOR, batch.id)
    vr_ids = {_fresh(n.id).verification_request_id for n in ready}
    assert len(vr_ids) == 1 and None not in vr_ids
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.batch_id == batch.id)).all()
    assert sorted(r.action for r in rows) == ["number.details_assigned"] * 3 + ["verification.submitted"]
    assert engine.undo_refusal(ACTOR, db.session.get(Batch, batch.id)) == "This action can't be undone."


def test_assign_details_batch_errors(ctx):
    identity, address = ready_identity()
    mixed = [_awaiting("+4930301001"), _awaiting("+4930301002", number_type="mobile")]
    batch = _preview("assign_details", mixed, identity_id=identity.id, address_id=address.id)
    assert batch.message == ("One request covers one country and number type; this selection has 2. "
                             "Filter to one first.")
    with pytest.raises(DomainError):
        engine.confirm(ACTOR, batch.id)
    bare = f.make_identity(first_name="Bo", last_name="Bare", country="DE")
    bare_address = identities.create_address(ACTOR, bare.id, street="Hauptstr. 1", city="Berlin",
                                             postal_code="10115", region="Berlin", country="DE")
    batch = _preview("assign_details", [_awaiting("+4930301003")], identity_id=bare.id, address_id=bare_address.id)
    assert "personal proof" in batch.message and "address proof" in batch.message


def test_assign_details_inputs_use_the_assign_messages(ctx):
    identity, _ = ready_identity()
    with pytest.raises(DomainError) as err:
        _preview("assign_details", [_awaiting("+4930302001")], identity_id=identity.id, address_id=None)
    assert (err.value.message, err.value.field) == ("Choose an address.", "address_id")
