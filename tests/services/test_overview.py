"""The Overview's figures (issue 12 §6): readiness blockers agree with the details page's checklist
for every state, the counts agree with the /numbers filters they link to, and the weekly buckets
follow the workspace time zone."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from did_app import clock
from did_app.db import db
from did_app.models import Number, NumberService, Workspace
from did_app.models.numbers import FEATURES
from did_app.numbers import blockers, queries, readiness
from did_app.overview import queries as overview
from did_app.rules import status
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import T0

DAY = timedelta(days=1)


def _workspace(**values) -> Workspace:
    ensure_workspace(db.session)
    if values:
        db.session.execute(sa.update(Workspace).values(**values))
    db.session.commit()
    db.session.expire_all()
    return db.session.scalars(sa.select(Workspace)).one()


def _stops_at(checklist) -> set[str]:
    """Where the checklist stops, read from its checks as the details page shows them."""
    c = {check.key: check.state for check in checklist.checks}
    found = set()
    if c["L1"] == readiness.PASS and c["R1"] != readiness.PASS:
        found.add("registration")
    if c["D"] == readiness.PASS and c["V1"] == readiness.FAIL:
        found.add("voice_route")
    if c["D"] == readiness.PASS and c["V1"] == readiness.PASS and c["V2"] == readiness.FAIL:
        found.add("capacity")
    if c["D"] == readiness.PASS and c["S1"] == readiness.FAIL:
        found.add("sms_route")
    return found


@pytest.fixture
def states(app):
    """A number in every readiness state the checklist distinguishes."""
    with app.app_context():
        _workspace()
        now = clock.now()
        trunk, empty_group = f.make_voice_trunk(), f.make_voice_group()
        full_group = f.make_voice_group(members=[f.make_voice_trunk()])
        sms, blocked = f.make_sms_trunk(), f.make_sms_trunk(blocked=True)
        sms_empty = f.make_sms_group(members=[f.make_sms_trunk(blocked=True)])
        sms_group = f.make_sms_group(members=[f.make_sms_trunk()])
        group_zero = f.make_capacity_group(shared=0)
        routed = dict(voice_route_id=trunk.id)
        both = ("voice_in", "sms_in")

        def awaiting(vr=None, **kw):
            return dict(needs_registration=True, awaiting_registration=True, verification_request_id=vr, **kw)

        cases = {
            "ready": dict(**routed),
            "no_voice": dict(),
            "empty_group": dict(voice_route_id=empty_group.id),
            "group_ok": dict(voice_route_id=full_group.id),
            "no_capacity": dict(**routed, capacity_mode="zero_included", channels_included=0),
            "no_capacity_no_trunk": dict(capacity_mode="zero_included", channels_included=0),
            "no_capacity_group_zero": dict(**routed, capacity_mode="zero_included", channels_included=0,
                                           capacity_group_id=group_zero.id),
            "metered": dict(**routed, capacity_mode="metered", channels_included=0),
            "sms_none": dict(**routed, features=both),
            "sms_ok": dict(**routed, features=both, sms_route_id=sms.id),
            "sms_blocked": dict(**routed, features=both, sms_route_id=blocked.id),
            "sms_empty_group": dict(features=both, sms_route_id=sms_empty.id),
            "sms_group_ok": dict(**routed, features=both, sms_route_id=sms_group.id),
            "sms_only_none": dict(features=("sms_in",)),
            "sms_only_ok": dict(features=("sms_in",), sms_route_id=sms.id),
            "voice_out_only": dict(features=("voice_out",)),
            "awaiting_missing": awaiting(features=both),
            "awaiting_pending": awaiting(f.make_verification_request(status="pending").id, **routed),
            "awaiting_rejected": awaiting(f.make_verification_request(status="rejected").id),
            "awaiting_expired": awaiting(expired_at=now - DAY, expires_at=now - DAY),
            "approved": dict(needs_registration=True, **routed, features=both),
            "expired": dict(expired_at=now - DAY, expires_at=now - DAY, features=both),
            "cancelled": dict(cancelled_at=now - DAY, features=both),
            "porting": dict(porting=True, expires_at=None, features=both),
        }
        ids = {}
        for name, kw in cases.items():
            features = kw.pop("features", ("voice_in",))
            ids[name] = f.make_number(features=features, **kw).id
        return ids


def _checklists(ws) -> dict[int, set[str]]:
    now = clock.now()
    numbers = db.session.scalars(sa.select(Number).options(
        selectinload(Number.voice_route), selectinload(Number.sms_route), selectinload(Number.capacity_group),
        selectinload(Number.capacity_pool), selectinload(Number.verification_request),
        selectinload(Number.services), selectinload(Number.port_in_request))).all()
    return {n.id: _stops_at(readiness.readiness(n, ws, now)) for n in numbers}


def test_blocker_filter_agrees_with_the_checklist_for_every_state(app, states):
    with app.app_context():
        ws = _workspace()
        stops = _checklists(ws)
        expected = {"no_voice": {"voice_route"}, "empty_group": {"voice_route"},
                    "no_capacity": {"capacity"}, "no_capacity_no_trunk": {"voice_route"},
                    "no_capacity_group_zero": {"capacity"}, "sms_none": {"sms_route"},
                    "sms_blocked": {"sms_route"}, "sms_empty_group": {"voice_route", "sms_route"},
                    "sms_only_none": {"sms_route"}, "awaiting_missing": {"registration"},
                    "awaiting_pending": {"registration"}, "awaiting_rejected": {"registration"},
                    "approved": {"sms_route"}}
        for name, number_id in states.items():
            assert stops[number_id] == expected.get(name, set()), name
        counts = blockers.counts()
        for key in blockers.BLOCKERS:
            filtered = set(db.session.scalars(sa.select(Number.id).where(blockers.condition(key))))
            assert filtered == {i for i, s in stops.items() if key in s}, key
            assert counts[key] == len(filtered), key



def test_blocker_counts_include_feature_sets_beyond_the_known_bits(app):
    """counts() seeks the known feature sets; a stored set with an unknown bit still counts, as the
    filter's bit test counts it."""
    with app.app_context():
        _workspace()
        sms = f.make_sms_trunk(blocked=True).id
        odd = {"both": f.make_number(features=("voice_in", "sms_in")).id,
               "sms_blocked": f.make_number(features=("sms_in",), sms_route_id=sms).id,
               "unknown_only": f.make_number(features=("voice_out",)).id}
        extra = 2 ** len(FEATURES)
        db.session.execute(sa.update(Number).where(Number.id.in_(odd.values()))
                           .values(features=Number.features + extra))
        status.recompute(Number.id.in_(odd.values()))
        db.session.commit()
        counts = blockers.counts()
        for key in blockers.BLOCKERS:
            filtered = db.session.scalar(sa.select(sa.func.count()).select_from(Number)
                                         .where(blockers.condition(key)))
            assert counts[key] == filtered, key
        assert counts == {"registration": 0, "voice_route": 1, "capacity": 0, "sms_route": 2}

def test_attention_items_count_services_wont_renew_and_at_risk(app):
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk().id
        pending = f.make_number(voice_route_id=trunk)
        f.make_number(voice_route_id=trunk, billing_cycles_count=0)
        f.make_number(voice_route_id=trunk, expires_at=now + 10 * DAY)   # at risk
        f.make_number(voice_route_id=trunk, expires_at=now + 2 * DAY)    # covered
        db.session.add(NumberService(number_id=pending.id, kind="cnam_out", status="pending", value="ACME"))
        db.session.commit()
        ws = _workspace(renewal_risk_cutoff_at=now + 5 * DAY)
        o = overview.overview(ws, now)
        assert o.services == {"pending": 1, "rejected": 0}
        assert o.wont_renew == 1
        assert o.at_risk == 2  # the pending-service number expires in 20 days, after the cutoff too
        assert o.counts["all"] == 4


def _bucket_counts(weeks):
    return [(w.will_renew, w.at_risk, w.wont_renew) for w in weeks]


def test_weekly_buckets_follow_hand_built_numbers_and_the_cutoff(app):
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk().id
        for days in (0.5, 3, 8, 8.5, 20, 89):
            f.make_number(voice_route_id=trunk, expires_at=now + days * DAY)
        f.make_number(voice_route_id=trunk, billing_cycles_count=0, expires_at=now + 9 * DAY)
        f.make_number(voice_route_id=trunk, cancelled_at=now - DAY, expires_at=now + 9 * DAY)  # terminated
        f.make_number(voice_route_id=trunk, expires_at=now + 120 * DAY)  # past the timeline
        ws = _workspace(renewal_risk_cutoff_at=now + 8.25 * DAY)  # between the 8 and 8.5 day ones
        weeks = overview.overview(ws, now).weeks
        assert len(weeks) == 13 and weeks[0].start == now.date()
        counts = _bucket_counts(weeks)
        assert counts[0] == (2, 0, 0)
        assert counts[1] == (1, 1, 1)
        assert counts[2] == (0, 1, 0)
        assert counts[12] == (0, 1, 0)
        assert sum(w.total for w in weeks) == 7  # not the terminated one, not the one past 90 days
        assert [w.covered for w in weeks[:3]] == [True, False, False]
        # each bar counts exactly what its /numbers link selects
        for w in weeks:
            for statuses, expected in ((overview.LIVE_STATUSES, w.total), (["expiring_soon"], w.wont_renew)):
                view = overview.week_view(w.start, w.end, statuses)
                got = db.session.scalar(sa.select(sa.func.count()).select_from(Number)
                                        .where(*queries.filter_conditions(view, ws, now)))
                assert got == expected, (w.start, statuses)


def test_weeks_start_at_local_midnight_in_the_workspace_time_zone(app):
    with app.app_context():
        trunk = f.make_voice_trunk().id
        # T0 in Auckland is already the next day; a number expiring just before local midnight of the
        # 7th local day is in week 0, one just after is in week 1
        ws = _workspace(time_zone="Pacific/Auckland")
        now = clock.now()
        from zoneinfo import ZoneInfo
        zone = ZoneInfo("Pacific/Auckland")
        today = now.astimezone(zone).date()
        boundary = datetime.combine(today + 7 * DAY, datetime.min.time(), zone).astimezone(timezone.utc)
        f.make_number(voice_route_id=trunk, expires_at=boundary - timedelta(minutes=1))
        f.make_number(voice_route_id=trunk, expires_at=boundary)
        weeks = overview.overview(ws, now).weeks
        assert weeks[0].start == today
        assert (weeks[0].total, weeks[1].total) == (1, 1)
        assert T0.tzinfo is not None


def test_a_cutoff_before_today_puts_every_renewal_at_risk(app):
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk().id
        for days in (0.5, 3, 8, 40):
            f.make_number(voice_route_id=trunk, expires_at=now + days * DAY)
        f.make_number(voice_route_id=trunk, billing_cycles_count=0, expires_at=now + 2 * DAY)
        ws = _workspace(renewal_risk_cutoff_at=now - 3 * DAY)
        weeks = overview.overview(ws, now).weeks
        assert _bucket_counts(weeks)[:2] == [(0, 2, 1), (0, 1, 0)]
        assert sum(w.at_risk for w in weeks) == 4 and sum(w.will_renew for w in weeks) == 0
        assert not any(w.covered for w in weeks)
