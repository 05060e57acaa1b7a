"""The stored status equals the SQL expression, and the SQL and Python definitions agree."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.db import db
from did_app.models import Number
from did_app.rules import status
from tests import factories as f


def _python_status(n):
    voice_members = db.session.scalar(sa.select(sa.func.count()).where(
        sa.text("group_id = :g")).select_from(sa.table("voice_route", sa.column("group_id"))),
        {"g": n.voice_route_id}) if n.voice_route_id else 0
    route = db.session.get(__import__("did_app.models", fromlist=["VoiceRoute"]).VoiceRoute, n.voice_route_id) \
        if n.voice_route_id else None
    voice_ok = status.python_voice_ok(n, route, voice_members)
    group = n.capacity_group_id and db.session.get(__import__("did_app.models", fromlist=["CapacityGroup"]).CapacityGroup, n.capacity_group_id)
    channels = n.channels_included + n.dedicated_channels + ((group.shared_channels + group.metered_channels) if group else 0)
    capacity_ok = n.capacity_mode == "metered" or channels > 0
    from did_app.models import SmsRoute
    sms = db.session.get(SmsRoute, n.sms_route_id) if n.sms_route_id else None
    if sms is None:
        sms_ok = False
    elif sms.kind == "trunk":
        sms_ok = not sms.blocked
    else:
        sms_ok = db.session.scalar(sa.select(sa.func.count()).where(SmsRoute.group_id == sms.id,
                                                                    SmsRoute.blocked.is_(False))) > 0
    return status.python_status(n, voice_ok=voice_ok, capacity_ok=capacity_ok, sms_ok=sms_ok)


@pytest.fixture
def inventory(app):
    """One number for every status and every route/capacity case."""
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk()
        empty_group = f.make_voice_group()
        full_group = f.make_voice_group(members=[f.make_voice_trunk()])
        sms_ok = f.make_sms_trunk()
        sms_blocked = f.make_sms_trunk(blocked=True)
        sms_group_blocked = f.make_sms_group(members=[f.make_sms_trunk(blocked=True)])
        cap_group = f.make_capacity_group(shared=0, metered=3)
        cases = {
            "porting": dict(porting=True, expires_at=None),
            "awaiting": dict(needs_registration=True, awaiting_registration=True, voice_route_id=trunk.id),
            "cancelled": dict(cancelled_at=now - timedelta(days=1), voice_route_id=trunk.id),
            "expired": dict(expired_at=now - timedelta(days=1), voice_route_id=trunk.id),
            "no_route": dict(),
            "empty_group": dict(voice_route_id=empty_group.id),
            "full_group": dict(voice_route_id=full_group.id),
            "zero_capacity": dict(voice_route_id=trunk.id, capacity_mode="zero_included", channels_included=0),
            "zero_plus_group": dict(voice_route_id=trunk.id, capacity_mode="zero_included",
                                    channels_included=0, capacity_group_id=cap_group.id),
            "metered": dict(voice_route_id=trunk.id, capacity_mode="metered", channels_included=0),
            "active": dict(voice_route_id=trunk.id),
            "expiring": dict(voice_route_id=trunk.id, billing_cycles_count=0),
            "sms_ok": dict(features=("sms_in",), sms_route_id=sms_ok.id),
            "sms_blocked": dict(features=("sms_in",), sms_route_id=sms_blocked.id),
            "sms_group_blocked": dict(features=("sms_in",), sms_route_id=sms_group_blocked.id),
            "sms_none": dict(features=("sms_in",)),
            "voice_and_sms_none": dict(features=("voice_in", "sms_in"), voice_route_id=trunk.id),
            "fax_only": dict(features=("t38",)),
        }
        ids = {name: f.make_number(**kw).id for name, kw in cases.items()}
        return ids


EXPECTED = {
    "porting": "porting", "awaiting": "awaiting_registration", "cancelled": "terminated",
    "expired": "terminated", "no_route": "not_configured", "empty_group": "not_configured",
    "full_group": "active", "zero_capacity": "not_configured", "zero_plus_group": "active",
    "metered": "active", "active": "active", "expiring": "active", "sms_ok": "active",
    "sms_blocked": "not_configured", "sms_group_blocked": "not_configured", "sms_none": "not_configured",
    "voice_and_sms_none": "active", "fax_only": "active",
}


def test_every_status_case_matches_the_spec(app, inventory):
    with app.app_context():
        for name, number_id in inventory.items():
            assert db.session.get(Number, number_id).status == EXPECTED[name], name


def test_sql_and_python_status_agree_for_every_number(app, inventory):
    with app.app_context():
        for number in db.session.scalars(sa.select(Number)):
            assert _python_status(number) == number.status, number.number
            assert status.python_expiring_soon(number) == number.expiring_soon


def test_stored_columns_equal_the_expression(app, inventory):
    with app.app_context():
        rows = db.session.execute(sa.select(Number.status, status.status_expr(), Number.expiring_soon,
                                            sa.case((status.expiring_soon_expr(), True), else_=False))).all()
        assert rows and all(stored == computed and flag == bool(expr) for stored, computed, flag, expr in rows)


def test_recompute_follows_a_route_change_without_bumping_version(app, inventory):
    with app.app_context():
        n = db.session.get(Number, inventory["no_route"])
        version = n.version
        db.session.execute(sa.update(Number).where(Number.id == n.id)
                           .values(voice_route_id=db.session.get(Number, inventory["active"]).voice_route_id)
                           .execution_options(synchronize_session=False))
        assert status.recompute(Number.id == n.id) == 1
        db.session.commit()
        db.session.expire_all()
        n = db.session.get(Number, inventory["no_route"])
        assert n.status == "active" and n.version == version
