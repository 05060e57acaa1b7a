"""Editing one number: rules, messages, concurrency, history and the stored status."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import audit, clock
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import AuditEvent, Number
from did_app.numbers.edits import update_number
from tests import factories as f

ACTOR = audit.Actor(None, "web", "ops@example.com")


def _fresh(number_id):
    db.session.expire_all()
    return db.session.get(Number, number_id)


def test_assigning_a_trunk_makes_the_number_active_and_writes_one_history_row(app):
    with app.app_context():
        n = f.make_number()
        trunk = f.make_voice_trunk(name="sip-main")
        assert n.status == "not_configured"
        number, changed = update_number(ACTOR, n.id, n.version, voice_route_id=trunk.id)
        n = _fresh(n.id)
        assert n.status == "active" and n.version == 2 and changed == {"voice_route_id": (None, trunk.id)}
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "number.updated")).all()
        assert len(rows) == 1 and rows[0].after == {"voice_route": "sip-main"} and rows[0].before == {"voice_route": None}


def test_a_stale_version_is_refused_with_who_changed_it(app):
    with app.app_context():
        n = f.make_number()
        update_number(audit.Actor(None, "web", "a@example.com"), n.id, 1, description="first")
        with pytest.raises(Conflict) as err:
            update_number(ACTOR, n.id, 1, description="second")
        assert err.value.message.startswith("Changed by the system at ") and "Your edit was not saved." in err.value.message
        assert _fresh(n.id).description == "first"


@pytest.mark.parametrize("changes,message", [
    ({"description": "x" * 256}, "Description must be at most 255 characters."),
    ({"capacity_limit": 0}, "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    ({"capacity_limit": 32768}, "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    ({"billing_cycles_count": 1000}, "Enter a whole number of renewals from 1 to 999."),
])
def test_invalid_values_are_refused_and_write_nothing(app, changes, message):
    with app.app_context():
        n = f.make_number()
        with pytest.raises(DomainError) as err:
            update_number(ACTOR, n.id, n.version, **changes)
        assert err.value.message == message
        assert _fresh(n.id).version == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_routes_need_the_feature(app):
    with app.app_context():
        sms_only = f.make_number(features=("sms_in",))
        voice_only = f.make_number()
        with pytest.raises(DomainError, match="This number does not support inbound voice."):
            update_number(ACTOR, sms_only.id, 1, voice_route_id=f.make_voice_trunk().id)
        with pytest.raises(DomainError, match="This number does not support inbound SMS."):
            update_number(ACTOR, voice_only.id, 1, sms_route_id=f.make_sms_trunk().id)


def test_renewal_is_refused_on_cancelled_and_expired_numbers(app):
    with app.app_context():
        now = clock.now()
        cancelled = f.make_number(cancelled_at=now - timedelta(days=1))
        expired = f.make_number(expired_at=now - timedelta(days=1))
        with pytest.raises(DomainError, match="Cancelled numbers can't change renewal. Restore first."):
            update_number(ACTOR, cancelled.id, 1, billing_cycles_count=None)
        with pytest.raises(DomainError, match="Expired numbers can't change renewal. Renew first."):
            update_number(ACTOR, expired.id, 1, billing_cycles_count=0)


def test_renewal_zero_flags_expiring_soon(app):
    with app.app_context():
        n = f.make_number(voice_route_id=f.make_voice_trunk().id)
        update_number(ACTOR, n.id, 1, billing_cycles_count=0)
        assert _fresh(n.id).expiring_soon is True
        update_number(ACTOR, n.id, 2, billing_cycles_count=None)
        assert _fresh(n.id).expiring_soon is False


def test_description_is_trimmed_and_cleaned(app):
    with app.app_context():
        n = f.make_number()
        update_number(ACTOR, n.id, 1, description="  Sales\x07 line  ")
        assert _fresh(n.id).description == "Sales line"
        update_number(ACTOR, n.id, 2, description="   ")
        assert _fresh(n.id).description is None


def test_an_unchanged_value_writes_nothing(app):
    with app.app_context():
        n = f.make_number(description="same")
        _, changed = update_number(ACTOR, n.id, 1, description="same")
        assert changed == {} and _fresh(n.id).version == 1


def test_capacity_group_rules(app):
    with app.app_context():
        us_pool = f.make_pool(countries=("US",), name="US pool")
        group = f.make_capacity_group(pool=us_pool, shared=2, name="US shared")
        zero = f.make_number(voice_route_id=f.make_voice_trunk().id, capacity_mode="zero_included", channels_included=0)
        assert zero.status == "not_configured"
        update_number(ACTOR, zero.id, 1, capacity_group_id=group.id)
        assert _fresh(zero.id).status == "active"
        gb = f.make_number(number="+442071838750", country="GB")
        with pytest.raises(DomainError, match="Capacity group US shared uses pool US pool, which does not cover GB."):
            update_number(ACTOR, gb.id, 1, capacity_group_id=group.id)
        fixed = f.make_number(allow_additional_channels=False)
        with pytest.raises(DomainError, match="This number cannot take additional channels."):
            update_number(ACTOR, fixed.id, 1, capacity_group_id=group.id)


def test_dedicated_channels_need_free_pool_channels(app):
    with app.app_context():
        pool = f.make_pool(countries=("US",), total=5, name="Small")
        f.make_capacity_group(pool=pool, shared=3)
        n = f.make_number()
        with pytest.raises(DomainError, match="Pool Small has 2 unassigned channels; 4 are needed."):
            update_number(ACTOR, n.id, 1, dedicated_channels=4, capacity_pool_id=pool.id)
        update_number(ACTOR, n.id, 1, dedicated_channels=2, capacity_pool_id=pool.id)
        assert _fresh(n.id).capacity_pool_id == pool.id
        update_number(ACTOR, n.id, 2, dedicated_channels=0)
        assert _fresh(n.id).capacity_pool_id is None


def test_next_capacity_mode_only_where_the_mode_can_switch(app):
    with app.app_context():
        toll_free = f.make_number(number_type="toll_free", capacity_mode="fixed", channels_included=300)
        with pytest.raises(DomainError, match="The capacity mode of this number cannot change."):
            update_number(ACTOR, toll_free.id, 1, next_capacity_mode="zero_included", next_monthly_price_minor=100)
        local = f.make_number()
        with pytest.raises(DomainError, match="Enter the monthly price from the next renewal."):
            update_number(ACTOR, local.id, 1, next_capacity_mode="zero_included")
        update_number(ACTOR, local.id, 1, next_capacity_mode="zero_included", next_monthly_price_minor=90)
        assert _fresh(local.id).next_capacity_mode == "zero_included"


def test_turning_renewal_off_recomputes_the_risk_cutoff(app):
    from did_app.lifecycle import forecast
    from did_app.models import Workspace
    from did_app.workspace import ensure_workspace

    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
        n = f.make_number(expires_at=clock.now() + timedelta(days=5), monthly_price_minor=500)
        forecast.recompute_cutoff(db.session)
        db.session.commit()
        assert db.session.scalar(sa.select(Workspace.renewal_risk_cutoff_at)) is not None  # balance 0
        update_number(ACTOR, n.id, n.version, billing_cycles_count=0)
        db.session.expire_all()
        assert db.session.scalar(sa.select(Workspace.renewal_risk_cutoff_at)) is None
