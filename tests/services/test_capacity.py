"""Capacity pools and groups: channel rules, the pool charge, delete protection, audit (configuration.md §5, §7)."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.configuration import capacity_service as svc
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import AuditEvent, CapacityGroup, CapacityPool, LedgerEntry, Number, Workspace
from did_app.rules import capacity as capacity_rules
from did_app.workspace import ensure_workspace
from tests import factories as f

CLI = Actor(None, "cli", "cli")
TODAY = date(2026, 11, 28)  # conftest's T0 in UTC, the workspace time zone


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _balance(minor: int) -> None:
    ensure_workspace(db.session).balance_minor = minor
    db.session.commit()


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _pool(monthly_price_minor=500, **kw) -> CapacityPool:
    kw.setdefault("renew_date", date(2026, 12, 13))
    kw.setdefault("setup_price_minor", 100)
    pool = f.make_pool(**kw)  # the factory fixes the monthly price at 500
    pool.monthly_price_minor = monthly_price_minor
    db.session.commit()
    return pool


# ---- the pool charge ----------------------------------------------------------------------

def test_quote_prorates_to_the_renew_date(ctx):
    pool = _pool(monthly_price_minor=500)  # period 13 Nov – 13 Dec: 30 days, 15 left
    quote = capacity_rules.quote_channels(pool, 3, TODAY)
    assert (quote.days_left, quote.days_in_period) == (15, 30)
    assert (quote.setup_minor, quote.prorated_minor, quote.total_minor) == (300, 750, 1050)


@pytest.mark.parametrize("monthly,days_left_date,expected", [
    (333, date(2026, 12, 13), 167),    # 166.5 rounds half-up, not to even
    (331, date(2026, 12, 13), 166),    # 165.5 → 166
    (100, date(2026, 12, 1), 10),      # 3 of 30 days: exactly 10
    (1, date(2026, 12, 13), 1),        # 0.5 → 1
    (500, date(2026, 11, 28), 0),      # renewal due today: nothing left to prorate
    (500, date(2026, 11, 20), 0),      # overdue renewal: nothing to prorate
    (500, date(2027, 3, 1), 500),      # more than a period away: capped at one month
])
def test_quote_rounds_half_up_and_clamps(ctx, monthly, days_left_date, expected):
    pool = _pool(monthly_price_minor=monthly, setup_price_minor=0, renew_date=days_left_date)
    assert capacity_rules.quote_channels(pool, 1, TODAY).prorated_minor == expected


def test_previous_renewal_keeps_the_day_or_the_months_last_day():
    assert capacity_rules.previous_renewal(date(2026, 3, 31)) == date(2026, 2, 28)
    assert capacity_rules.previous_renewal(date(2026, 1, 15)) == date(2025, 12, 15)


def test_add_channels_writes_one_pool_charge_and_debits_the_balance(ctx):
    _balance(5000)
    pool = _pool(monthly_price_minor=500, total=10)
    entry = svc.add_channels(CLI, pool.id, 3)
    rows = db.session.scalars(sa.select(LedgerEntry)).all()
    assert len(rows) == 1 and rows[0].id == entry.id
    assert (entry.kind, entry.amount_minor, entry.balance_after_minor, entry.pool_id) == ("pool_charge", -1050, 3950, pool.id)
    assert entry.detail["quantity"] == 3 and entry.detail["prorated_minor"] == 750
    assert db.session.scalar(sa.select(Workspace.balance_minor)) == 3950
    assert db.session.get(CapacityPool, pool.id).total_channels == 13
    [row] = _audit("capacity_pool.channels_added")
    assert (row.before, row.after) == ({"total_channels": 10}, {"total_channels": 13})
    assert row.note == "Charged $10.50"


def test_add_channels_with_exactly_the_balance_leaves_zero(ctx):
    _balance(1050)
    pool = _pool(monthly_price_minor=500)
    assert svc.add_channels(CLI, pool.id, 3).balance_after_minor == 0


def test_a_short_balance_writes_nothing(ctx):
    _balance(1049)
    pool = _pool(monthly_price_minor=500, total=10)
    with pytest.raises(DomainError, match=r"^Balance \$10\.49 is short of \$10\.50\.$"):
        svc.add_channels(CLI, pool.id, 3)
    assert _count(LedgerEntry) == 0 and _count(AuditEvent) == 0
    assert db.session.scalar(sa.select(Workspace.balance_minor)) == 1049
    assert db.session.get(CapacityPool, pool.id).total_channels == 10


def test_quantity_must_be_at_least_one(ctx):
    pool = _pool()
    for call in (svc.add_channels, svc.remove_channels):
        with pytest.raises(DomainError, match="1 or more"):
            call(CLI, pool.id, 0)


def test_create_pool_charges_its_initial_channels_in_the_same_transaction(ctx):
    _balance(100)
    kw = dict(name="EU", countries=["DE", "FR"], setup_price_minor=100, monthly_price_minor=0,
              metered_rate=None, renew_date=date(2026, 12, 28), channels=2)
    with pytest.raises(DomainError, match="is short of"):
        svc.create_pool(CLI, **kw)
    assert _count(CapacityPool) == 0 and _count(AuditEvent) == 0
    _balance(200)
    pool = svc.create_pool(CLI, **kw)
    assert pool.total_channels == 2 and pool.country_codes == ["DE", "FR"]
    assert [e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))] == [
        "capacity_pool.created", "capacity_pool.channels_added"]
    assert db.session.scalar(sa.select(LedgerEntry.amount_minor)) == -200


# ---- removing channels and countries ----------------------------------------------------

def test_only_unassigned_channels_can_be_removed(ctx):
    pool = _pool(total=10)
    f.make_capacity_group(pool=pool, shared=4)
    f.make_number(capacity_pool_id=pool.id, dedicated_channels=3)
    assert capacity_rules.assigned_channels(pool.id) == 7
    with pytest.raises(DomainError, match=r"^Only unassigned channels can be removed \(3 unassigned\)\.$"):
        svc.remove_channels(CLI, pool.id, 4)
    assert db.session.get(CapacityPool, pool.id).total_channels == 10
    svc.remove_channels(CLI, pool.id, 3)
    assert db.session.get(CapacityPool, pool.id).total_channels == 7
    [row] = _audit("capacity_pool.channels_removed")
    assert row.after == {"total_channels": 7}
    assert _count(LedgerEntry) == 0  # nothing is refunded


def _pool_edit(pool, **kw):
    values = dict(version=None, name=pool.name, countries=pool.country_codes, setup_price_minor=pool.setup_price_minor,
                  monthly_price_minor=pool.monthly_price_minor, metered_rate=pool.metered_rate, renew_date=pool.renew_date)
    values.update(kw)
    return svc.update_pool(CLI, pool.id, **values)


@pytest.mark.parametrize("how", ["group", "dedicated"])
def test_a_country_in_use_cannot_be_removed(ctx, how):
    pool = _pool(countries=("US", "CA"))
    if how == "group":
        f.make_number(country="CA", capacity_group_id=f.make_capacity_group(pool=pool).id)
    else:
        f.make_number(country="CA", capacity_pool_id=pool.id, dedicated_channels=1)
    with pytest.raises(DomainError, match=r"^Numbers from CA use this pool\.$") as err:
        _pool_edit(pool, countries=["US"])
    assert err.value.field == "countries"
    assert db.session.get(CapacityPool, pool.id).country_codes == ["CA", "US"]
    _pool_edit(pool, countries=["CA", "GB"])  # US is unused
    assert db.session.get(CapacityPool, pool.id).country_codes == ["CA", "GB"]


def test_update_pool_audits_changed_fields_only_and_checks_the_version(ctx):
    pool = _pool(name="Main")
    _pool_edit(pool, monthly_price_minor=900, metered_rate=None)
    [row] = _audit("capacity_pool.updated")
    assert (row.before, row.after) == ({"monthly_price_minor": 500}, {"monthly_price_minor": 900})
    with pytest.raises(Conflict):
        _pool_edit(pool, name="Other", version=1)
    _pool_edit(pool, name="Main")  # no change, no row
    assert len(_audit("capacity_pool.updated")) == 1


def test_pool_names_are_unique_ignoring_case(ctx):
    _pool(name="Main")
    with pytest.raises(DomainError, match="already used by another pool"):
        svc.create_pool(CLI, name="main", countries=["US"], setup_price_minor=0, monthly_price_minor=0,
                        metered_rate=None, renew_date=TODAY)


# ---- capacity groups ---------------------------------------------------------------------

def _group(pool, **kw):
    values = dict(name="Support", description=None, pool_id=pool.id, shared_channels=0, metered_channels=0)
    values.update(kw)
    return svc.create_group(CLI, **values)


def _group_edit(group, **kw):
    values = dict(version=None, name=group.name, description=group.description, pool_id=group.pool_id,
                  shared_channels=group.shared_channels, metered_channels=group.metered_channels)
    values.update(kw)
    return svc.update_group(CLI, group.id, **values)


@pytest.mark.parametrize("shared,metered,message", [
    (0, 0, "A capacity group needs at least one shared or metered channel."),
    (0, 1001, "Metered channels must be 0–1,000."),
    (1, -1, "Metered channels must be 0–1,000."),
    (11, 0, "Pool Main has only 10 unassigned channels."),
])
def test_group_channel_rules(ctx, shared, metered, message):
    pool = _pool(name="Main", total=10)
    with pytest.raises(DomainError) as err:
        _group(pool, shared_channels=shared, metered_channels=metered)
    assert err.value.message == message
    assert _count(CapacityGroup) == 0 and _count(AuditEvent) == 0


def test_shared_channels_may_use_the_unassigned_plus_the_groups_own(ctx):
    pool = _pool(name="Main", total=10)
    group = _group(pool, shared_channels=6)
    _group(pool, name="Sales", shared_channels=4)
    assert capacity_rules.unassigned_channels(pool) == 0
    with pytest.raises(DomainError, match=r"^Pool Main has only 0 unassigned channels\.$"):
        _group_edit(group, shared_channels=7)
    _group_edit(group, shared_channels=6, metered_channels=5)
    _group_edit(group, shared_channels=2)
    assert capacity_rules.unassigned_channels(pool) == 4
    edits = _audit("capacity_group.updated")
    assert [(e.before, e.after) for e in edits] == [({"metered_channels": 0}, {"metered_channels": 5}),
                                                   ({"shared_channels": 6}, {"shared_channels": 2})]


def test_the_pool_changes_only_while_the_group_has_no_numbers(ctx):
    first, second = _pool(name="First", total=10), _pool(name="Second", total=3)
    group = _group(first, shared_channels=5)
    with pytest.raises(DomainError, match="Pool Second has only 3 unassigned channels."):
        _group_edit(group, pool_id=second.id)  # its 5 don't move with it
    _group_edit(group, pool_id=second.id, shared_channels=3)
    assert capacity_rules.unassigned_channels(first) == 10
    f.make_number(capacity_group_id=group.id)
    with pytest.raises(DomainError, match=r"can't change while the group has numbers \(1\)") as err:
        _group_edit(group, pool_id=first.id)
    assert err.value.field == "pool_id"


def test_changing_channels_recomputes_the_status_of_the_groups_numbers(ctx):
    pool = _pool(total=10)
    group = _group(pool, shared_channels=1)
    trunk = f.make_voice_trunk()
    member = f.make_number(voice_route_id=trunk.id, capacity_group_id=group.id, capacity_mode="zero_included",
                           channels_included=0)
    other = f.make_number(voice_route_id=trunk.id, capacity_mode="zero_included", channels_included=0)
    assert (member.status, other.status) == ("active", "not_configured")
    version = member.version
    # make both stored values stale; only the group's number is recomputed
    db.session.execute(sa.update(Number).values(status="porting"))
    db.session.commit()
    _group_edit(group, shared_channels=2)
    db.session.expire_all()
    assert (db.session.get(Number, member.id).status, db.session.get(Number, other.id).status) == ("active", "porting")
    assert db.session.get(Number, member.id).version == version  # a recompute is not an edit


def test_editing_only_the_name_does_not_recompute(ctx):
    pool = _pool(total=10)
    group = _group(pool, shared_channels=1)
    number = f.make_number(capacity_group_id=group.id)
    db.session.execute(sa.update(Number).values(status="porting"))
    db.session.commit()
    _group_edit(group, name="Renamed")
    db.session.expire_all()
    assert db.session.get(Number, number.id).status == "porting"


def test_group_update_checks_the_version(ctx):
    group = _group(_pool(total=10), shared_channels=1)
    _group_edit(group, description="first")
    with pytest.raises(Conflict):
        _group_edit(group, description="second", version=1)


# ---- delete protection (§7) ----------------------------------------------------------------

def test_a_group_with_numbers_is_not_deleted(ctx):
    group = _group(_pool(total=10), name="Support", shared_channels=2)
    f.make_number(capacity_group_id=group.id)
    f.make_number(capacity_group_id=group.id)
    with pytest.raises(svc.InUse) as err:
        svc.delete_group(CLI, group.id)
    assert err.value.message == "Capacity group Support has 2 numbers. Remove them from the group first."
    assert err.value.numbers_filter == {"capacity_group": [group.id]}
    assert db.session.get(CapacityGroup, group.id) is not None and not _audit("capacity_group.deleted")


def test_a_group_a_profile_uses_is_not_deleted(ctx):
    from did_app.models import ConfigurationProfile
    group = _group(_pool(total=10), name="Support", shared_channels=2)
    db.session.add(ConfigurationProfile(name="P", capacity_group_id=group.id))
    db.session.commit()
    with pytest.raises(svc.InUse, match=r"^Capacity group Support is used by profiles: P\.$"):
        svc.delete_group(CLI, group.id)


def test_deleting_a_group_returns_its_channels(ctx):
    pool = _pool(total=10)
    group = _group(pool, name="Support", shared_channels=4)
    svc.delete_group(CLI, group.id)
    assert capacity_rules.unassigned_channels(pool) == 10
    [row] = _audit("capacity_group.deleted")
    assert row.object_label == "Support" and row.before["shared_channels"] == 4


def test_a_pool_in_use_is_not_deleted(ctx):
    pool = _pool(name="Main", total=10)
    group = _group(pool, shared_channels=1)
    f.make_number(capacity_pool_id=pool.id, dedicated_channels=2)
    with pytest.raises(svc.InUse) as err:
        svc.delete_pool(CLI, pool.id)
    assert err.value.message == "Pool Main is used by 1 numbers and 1 capacity groups."
    assert err.value.numbers_filter == {"capacity_group": [group.id]}
    assert db.session.get(CapacityPool, pool.id) is not None and _count(AuditEvent, AuditEvent.action.like("%deleted")) == 0


def test_an_unused_pool_is_deleted_with_an_audit_row(ctx):
    pool = _pool(name="Spare", countries=("GB",))
    svc.delete_pool(CLI, pool.id)
    assert db.session.get(CapacityPool, pool.id) is None
    [row] = _audit("capacity_pool.deleted")
    assert row.before["countries"] == ["GB"]


def test_a_pool_with_ledger_rows_is_not_deleted(ctx):
    _balance(10_000)
    pool = _pool(name="Charged")
    svc.add_channels(CLI, pool.id, 1)
    svc.remove_channels(CLI, pool.id, 1)
    with pytest.raises(svc.InUse, match="has ledger entries"):
        svc.delete_pool(CLI, pool.id)


def test_assigned_by_pool_matches_assigned_channels(ctx):
    a, b = _pool(total=20), _pool(total=5)
    f.make_capacity_group(pool=a, shared=3)
    f.make_capacity_group(pool=a, shared=2)
    f.make_number(capacity_pool_id=a.id, dedicated_channels=4)
    f.make_number(capacity_pool_id=b.id, dedicated_channels=1, number="+14155550999")
    assert capacity_rules.assigned_by_pool() == {a.id: capacity_rules.assigned_channels(a.id),
                                                 b.id: capacity_rules.assigned_channels(b.id)} == {a.id: 9, b.id: 1}


def test_local_today_follows_the_workspace_time_zone(ctx, clock):
    ws = ensure_workspace(db.session)
    ws.time_zone = "Pacific/Auckland"  # UTC+13 in November
    clock.set(clock.now().replace(hour=20))
    assert svc.local_today(ws) == TODAY + timedelta(days=1)


def test_a_second_pool_with_the_same_non_ascii_name_is_refused(ctx):
    _pool(name="Ärhus")
    with pytest.raises(DomainError, match="already used by another pool"):
        svc.create_pool(CLI, name="Ärhus", countries=["US"], setup_price_minor=0, monthly_price_minor=0,
                        metered_rate=None, renew_date=TODAY)
