"""Profiles and rules: precedence (§9), validation, apply_profile (§8), delete protection (§7)."""
import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.configuration import profiles_service as svc
from did_app.configuration.capacity_service import InUse
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import AuditEvent, ConfigurationProfile, Number, Rule
from tests import factories as f

CLI = Actor(None, "cli", "cli")
# the number every precedence test asks about
SF = dict(country="US", number_type="local", region="CA", city="San Francisco")


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def profile(ctx):
    return svc.create_profile(CLI, name="Base", description="Base line")


def _rule(profile, name, clock=None, **kw):
    if clock is not None:
        clock.advance(minutes=1)  # each rule newer than the last unless the test says otherwise
    return svc.create_rule(CLI, name=name, profile_id=profile.id, **kw)


def _winner(**overrides):
    rule = svc.match_rule(**{**SF, **overrides})
    return rule.name if rule else None


def _audit(action):
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# ---- levels --------------------------------------------------------------------------------

LEVEL_RULES = {
    "global": {},
    "country": {"countries": ["US"]},
    "number_type": {"number_types": ["local"]},
    "region": {"countries": ["US"], "regions": ["CA"]},
    "city": {"countries": ["US"], "cities": ["San Francisco"]},
}


@pytest.mark.parametrize("level", list(LEVEL_RULES))
def test_each_level_beats_every_lower_one(profile, clock, level):
    """Rules at this level and below all match; the one at this level wins, whatever the age."""
    order = list(LEVEL_RULES)
    for lower in reversed(order[:order.index(level) + 1]):  # the winner is the oldest rule
        rule = _rule(profile, lower, clock, **LEVEL_RULES[lower])
        assert rule.level == lower
    assert _winner() == level


def test_a_higher_level_beats_more_dimensions(profile, clock):
    _rule(profile, "region with types", clock, countries=["US"], number_types=["local"], regions=["CA"])
    _rule(profile, "city only", countries=["US"], cities=["San Francisco"])
    assert _winner() == "city only"


def test_number_type_beats_country_even_with_fewer_dimensions(profile, clock):
    _rule(profile, "types", clock, number_types=["local"])
    _rule(profile, "countries", clock, countries=["US", "CA"])
    assert _winner() == "types"


def test_tie_more_dimensions_wins_over_newer(profile, clock):
    _rule(profile, "two dimensions", clock, countries=["US"], number_types=["local"])
    _rule(profile, "one dimension, newer", clock, number_types=["local", "mobile"])
    assert _winner() == "two dimensions"


def test_tie_newest_created_at_wins_over_higher_id(profile, clock):
    _rule(profile, "newer, lower id", clock, countries=["US"])
    clock.advance(minutes=-10)
    _rule(profile, "older, higher id", countries=["US", "CA"])
    assert _winner() == "newer, lower id"


def test_tie_same_created_at_goes_to_the_highest_id(profile):
    _rule(profile, "first", countries=["US"])
    _rule(profile, "second", countries=["US"])
    assert _winner() == "second"


def test_disabled_rules_never_match(profile, clock):
    _rule(profile, "global", clock)
    _rule(profile, "city, off", clock, countries=["US"], cities=["San Francisco"], enabled=False)
    assert _winner() == "global"
    svc.update_rule(CLI, db.session.scalar(sa.select(Rule.id).where(Rule.name == "global")), version=None,
                    name="global", profile_id=profile.id, enabled=False)
    assert _winner() is None


@pytest.mark.parametrize("region,city", [("ca", "san francisco"), ("  CA ", " SAN FRANCISCO  "), ("Ca", "San Francisco")])
def test_regions_and_cities_match_ignoring_case_and_spaces(profile, region, city):
    _rule(profile, "region", countries=["US"], regions=[" ca "])
    assert _winner(region=region, city=None) == "region"
    _rule(profile, "city", countries=["US"], cities=["San Francisco "])
    assert _winner(region=region, city=city) == "city"


def test_every_non_empty_dimension_must_hold_the_value(profile):
    _rule(profile, "GB mobiles", countries=["GB"], number_types=["mobile"])
    _rule(profile, "US toll-free", countries=["US"], number_types=["toll_free"])
    _rule(profile, "Oakland", countries=["US"], cities=["Oakland"])
    _rule(profile, "NY", countries=["US"], regions=["NY"])
    assert _winner() is None
    assert _winner(region=None, city=None) is None
    assert _winner(number_type="toll_free") == "US toll-free"


def test_evaluation_order_lists_every_rule_most_specific_first(profile, clock):
    _rule(profile, "global", clock)
    _rule(profile, "off", clock, countries=["US"], cities=["Boston"], enabled=False)
    _rule(profile, "country", clock, countries=["US"])
    _rule(profile, "type+country", clock, countries=["US"], number_types=["local"])
    _rule(profile, "type", clock, number_types=["local"])
    _rule(profile, "region", clock, countries=["US"], regions=["CA"])
    assert [r.name for r in svc.rules_in_evaluation_order()] == [
        "off", "region", "type+country", "type", "country", "global"]


def test_the_matcher_loads_the_rules_once(profile, app):
    _rule(profile, "country", countries=["US"])
    match = svc.rule_matcher()
    queries = []

    def count(conn, cursor, statement, *args):
        queries.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert [match("US", "local", None, None).name, match("GB", "local", None, None)] == ["country", None]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert queries == []


# ---- rule validation and audit ------------------------------------------------------------

@pytest.mark.parametrize("countries", [[], ["US", "CA"]])
@pytest.mark.parametrize("dimension", ["regions", "cities"])
def test_regions_and_cities_need_exactly_one_country(profile, countries, dimension):
    with pytest.raises(DomainError, match=r"^Regions and cities need exactly one country\.$") as err:
        _rule(profile, "bad", countries=countries, **{dimension: ["X"]})
    assert err.value.field == dimension
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rule)) == 0


def test_rule_needs_a_profile_and_known_types_and_a_unique_name(profile):
    with pytest.raises(DomainError, match="Choose a profile."):
        svc.create_rule(CLI, name="x", profile_id=None)
    with pytest.raises(DomainError, match="number types"):
        _rule(profile, "x", number_types=["landline"])
    _rule(profile, "taken")
    with pytest.raises(DomainError, match="already used by another rule"):
        _rule(profile, "TAKEN")


def test_rule_audit_rows_hold_the_changed_fields(profile):
    rule = _rule(profile, "r", countries=["us", "US"], regions=["Bavaria", "bavaria"])
    assert (rule.countries, rule.regions) == (["US"], ["Bavaria"])
    other = svc.create_profile(CLI, name="Other", capacity_limit=5)
    svc.update_rule(CLI, rule.id, version=rule.version, name="r", profile_id=other.id, countries=["US"],
                    regions=["Bavaria"])
    [created], [updated] = _audit("rule.created"), _audit("rule.updated")
    assert created.after["profile"] == "Base" and created.after["countries"] == ["US"]
    assert (updated.before, updated.after) == ({"profile": "Base"}, {"profile": "Other"})
    with pytest.raises(Conflict):
        svc.update_rule(CLI, rule.id, version=1, name="r2", profile_id=other.id)
    svc.delete_rule(CLI, rule.id)
    assert _audit("rule.deleted")[0].before["name"] == "r"


def test_editing_a_rule_keeps_its_created_at(profile, clock):
    rule = _rule(profile, "r", countries=["US"])
    created = rule.created_at
    clock.advance(days=1)
    svc.update_rule(CLI, rule.id, version=None, name="r", profile_id=profile.id, countries=["CA"])
    assert db.session.get(Rule, rule.id).created_at == created


# ---- profiles ------------------------------------------------------------------------------

def test_a_profile_must_set_at_least_one_field(ctx):
    with pytest.raises(DomainError, match=r"^A profile must set at least one field\.$") as err:
        svc.create_profile(CLI, name="Empty", description="   ")
    assert err.value.field is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConfigurationProfile)) == 0


@pytest.mark.parametrize("kw,field", [
    ({"capacity_limit": 0}, "capacity_limit"), ({"capacity_limit": 32768}, "capacity_limit"),
    ({"description": "x" * 256}, "description"), ({"voice_route_id": 999}, "voice_route_id"),
    ({"sms_route_id": 999}, "sms_route_id"), ({"capacity_group_id": 999}, "capacity_group_id"),
])
def test_profile_field_ranges(ctx, kw, field):
    with pytest.raises(DomainError) as err:
        svc.create_profile(CLI, name="P", **kw)
    assert err.value.field == field


def test_profile_routes_can_be_trunks_or_groups(ctx):
    group = f.make_voice_group(members=[f.make_voice_trunk()], name="Hunt")
    sms = f.make_sms_trunk(name="CRM")
    profile = svc.create_profile(CLI, name="P", voice_route_id=group.id, sms_route_id=sms.id, capacity_limit=10)
    assert svc.profile_fields(profile) == [("Voice route", "Hunt (group)"), ("SMS route", "CRM"), ("Capacity limit", "10")]
    [row] = _audit("profile.created")
    assert row.after == {"name": "P", "voice_route": "Hunt", "sms_route": "CRM", "capacity_limit": 10}


def test_profile_update_audits_changes_and_checks_the_version(profile):
    svc.update_profile(CLI, profile.id, version=profile.version, name="Base", description="New line", capacity_limit=4)
    [row] = _audit("profile.updated")
    assert (row.before, row.after) == ({"description": "Base line", "capacity_limit": None},
                                       {"description": "New line", "capacity_limit": 4})
    with pytest.raises(Conflict):
        svc.update_profile(CLI, profile.id, version=1, name="Base", description="Again")


def test_a_profile_rules_use_is_not_deleted(profile):
    _rule(profile, "Zeta")
    _rule(profile, "Alpha")
    with pytest.raises(InUse, match=r"^Profile Base is used by rules: Alpha, Zeta\.$"):
        svc.delete_profile(CLI, profile.id)
    assert db.session.get(ConfigurationProfile, profile.id) is not None and not _audit("profile.deleted")
    for rule in db.session.scalars(sa.select(Rule)).all():
        svc.delete_rule(CLI, rule.id)
    svc.delete_profile(CLI, profile.id)
    assert db.session.get(ConfigurationProfile, profile.id) is None and _audit("profile.deleted")


# ---- apply_profile -----------------------------------------------------------------------

@pytest.fixture
def setup(ctx):
    trunk = f.make_voice_trunk(name="sip-main")
    sms = f.make_sms_trunk(name="sms-crm")
    pool = f.make_pool(countries=("US",), total=10)
    group = f.make_capacity_group(pool=pool, shared=2, name="US support")
    profile = svc.create_profile(CLI, name="Full", voice_route_id=trunk.id, sms_route_id=sms.id,
                                 capacity_group_id=group.id, capacity_limit=20, description="Support line")
    return dict(trunk=trunk, sms=sms, group=group, pool=pool, profile=profile)


def test_apply_sets_every_field_with_one_audit_row_and_recomputes_status(setup):
    number = f.make_number(features=("voice_in", "sms_in"), capacity_mode="zero_included", channels_included=0)
    assert number.status == "not_configured"
    version = number.version
    result = svc.apply_profile(CLI, number.id, setup["profile"].id, version=version)
    assert result == {"changed": {"voice_route_id": (None, setup["trunk"].id), "sms_route_id": (None, setup["sms"].id),
                                  "capacity_group_id": (None, setup["group"].id), "capacity_limit": (None, 20),
                                  "description": (None, "Support line")}, "skipped": []}
    db.session.expire_all()
    after = db.session.get(Number, number.id)
    assert after.status == "active"  # the route plus the group's channels
    assert after.version == version + 1 and after.updated_at is not None
    [row] = _audit("number.updated")
    assert (row.object_type, row.object_id, row.object_label) == ("number", number.id, number.number)
    assert row.note == "Profile Full applied"
    assert row.after == {"voice_route": "sip-main", "sms_route": "sms-crm", "capacity_group": "US support",
                         "capacity_limit": 20, "description": "Support line"}
    assert row.before == dict.fromkeys(row.after)


def test_apply_skips_fields_that_do_not_apply_with_reasons(setup):
    number = f.make_number(features=("sms_out",), allow_additional_channels=False)
    result = svc.apply_profile(CLI, number.id, setup["profile"].id)
    assert result["skipped"] == ["This number does not support inbound voice.", "This number does not support inbound SMS.",
                                 "This number cannot take additional channels."]
    assert set(result["changed"]) == {"capacity_limit", "description"}


def test_apply_skips_a_group_whose_pool_does_not_cover_the_country(setup):
    number = f.make_number(country="CA", number="+14165550123")
    result = svc.apply_profile(CLI, number.id, setup["profile"].id)
    assert f"Capacity group US support uses pool {setup['pool'].name}, which does not cover CA." in result["skipped"]


def test_apply_leaves_unchanged_fields_alone(setup):
    number = f.make_number(voice_route_id=setup["trunk"].id, description="Support line")
    result = svc.apply_profile(CLI, number.id, setup["profile"].id)
    assert set(result["changed"]) == {"capacity_group_id", "capacity_limit"}
    assert set(_audit("number.updated")[0].after) == {"capacity_group", "capacity_limit"}


def test_apply_with_nothing_to_change_writes_nothing(setup):
    number = f.make_number(features=("voice_in", "sms_in"), voice_route_id=setup["trunk"].id,
                           sms_route_id=setup["sms"].id, capacity_group_id=setup["group"].id, capacity_limit=20,
                           description="Support line")
    version = number.version
    assert svc.apply_profile(CLI, number.id, setup["profile"].id) == {"changed": {}, "skipped": ["Already matches profile"]}
    only_voice = svc.create_profile(CLI, name="Voice only", voice_route_id=setup["trunk"].id)
    sms_number = f.make_number(features=("sms_in",))
    assert svc.apply_profile(CLI, sms_number.id, only_voice.id) == {
        "changed": {}, "skipped": ["This number does not support inbound voice."]}
    db.session.expire_all()
    assert db.session.get(Number, number.id).version == version
    assert _audit("number.updated") == []


def test_apply_refuses_a_stale_version(setup):
    number = f.make_number()
    with pytest.raises(Conflict):
        svc.apply_profile(CLI, number.id, setup["profile"].id, version=number.version + 1)
    db.session.expire_all()
    assert db.session.get(Number, number.id).voice_route_id is None and _audit("number.updated") == []


def test_editing_a_profile_does_not_touch_numbers_it_was_applied_to(setup):
    number = f.make_number()
    svc.apply_profile(CLI, number.id, setup["profile"].id)
    profile = setup["profile"]
    svc.update_profile(CLI, profile.id, version=None, name="Full", description="Changed", capacity_limit=5)
    db.session.expire_all()
    assert db.session.get(Number, number.id).description == "Support line"


# ---- the Test box --------------------------------------------------------------------------

def test_try_number_detects_the_number_and_finds_the_rule(profile):
    _rule(profile, "SF", countries=["US"], cities=["San Francisco"])
    result = svc.try_number("(415) 555-2671", "US")
    assert (result.number, result.country, result.number_type) == ("+14155552671", "US", "local")
    assert result.city == "San Francisco" and result.rule.name == "SF"
    assert result.fields == [("Description", "Base line")]
    assert svc.try_number("+44 20 7183 8750", "US").rule is None
    assert svc.try_number("12", "US").error


def test_rules_created_later_are_ordered_by_created_at_not_insert_order(profile, clock):
    clock.advance(days=-1)
    _rule(profile, "yesterday", countries=["US"])
    clock.advance(days=2)
    _rule(profile, "tomorrow", countries=["CA"])
    clock.advance(days=-3)
    _rule(profile, "two days ago", countries=["GB"])
    assert [r.name for r in svc.rules_in_evaluation_order()] == ["tomorrow", "yesterday", "two days ago"]


def test_a_second_profile_with_the_same_non_ascii_name_is_refused(ctx):
    # SQLite's lower() folds ASCII only: the lookup must still find the exact name (fuzz finding B)
    svc.create_profile(CLI, name="Öffnungszeiten", description="first")
    with pytest.raises(DomainError, match="already"):
        svc.create_profile(CLI, name="Öffnungszeiten", description="second")
