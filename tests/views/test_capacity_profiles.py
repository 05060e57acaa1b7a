"""Capacity, profile and rule pages over HTTP: roles, CSRF, 422 next to the field, delete refusals, the Test box."""
import re
from datetime import date

import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.models import (
    AuditEvent,
    CapacityGroup,
    CapacityPool,
    ConfigurationProfile,
    LedgerEntry,
    Rule,
    Workspace,
)
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import csrf_from, login

CLI = Actor(None, "cli", "cli")
CAP = "/configuration/capacity"
PROF = "/configuration/profiles"


@pytest.fixture
def objs(app):
    """A pool in use, a spare pool, a group, a spare group, a profile a rule uses, a spare profile."""
    with app.app_context():
        ensure_workspace(db.session).balance_minor = 100_000
        db.session.commit()
        pool = f.make_pool(name="Main", countries=("US", "CA"), total=20, renew_date=date(2026, 12, 13))
        spare_pool = f.make_pool(name="Spare", countries=("GB",), total=0, renew_date=date(2026, 12, 13))
        group = f.make_capacity_group(pool=pool, shared=4, name="Support")
        spare_group = f.make_capacity_group(pool=pool, shared=1, name="Spare group")
        f.make_number(capacity_group_id=group.id)
        profile = profiles_service.create_profile(CLI, name="Base", description="Base line")
        spare_profile = profiles_service.create_profile(CLI, name="Spare profile", capacity_limit=3)
        rule = profiles_service.create_rule(CLI, name="US", profile_id=profile.id, countries=["US"])
        return dict(pool=pool.id, spare_pool=spare_pool.id, group=group.id, spare_group=spare_group.id,
                    profile=profile.id, spare_profile=spare_profile.id, rule=rule.id)


def _snapshot(app) -> tuple:
    with app.app_context():
        counts = tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                       for m in (AuditEvent, LedgerEntry, CapacityPool, CapacityGroup, ConfigurationProfile, Rule))
        versions = tuple(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(m.version), 0)))
                         for m in (CapacityPool, CapacityGroup, ConfigurationProfile, Rule))
        balance = db.session.scalar(sa.select(Workspace.balance_minor))
        return counts, versions, balance


POOL_FIELDS = {"name": "New pool", "countries": "DE, FR", "setup_price": "1.00", "monthly_price": "8.00",
               "metered_rate": "0.0065", "renew_date": "2026-12-20"}
# (endpoint, path, form data, admin only); paths name objects of the `objs` fixture
WRITES = [
    ("create_pool", CAP + "/pools", {**POOL_FIELDS, "quantity": "2"}, True),
    ("update_pool", CAP + "/pools/{pool}", {**POOL_FIELDS, "name": "Main", "countries": "US, CA", "version": "1"},
     True),
    ("add_channels", CAP + "/pools/{pool}/channels/add", {"add-quantity": "2"}, True),
    ("remove_channels", CAP + "/pools/{pool}/channels/remove", {"remove-quantity": "2"}, True),
    ("delete_pool", CAP + "/pools/{spare_pool}/delete", {}, True),
    ("create_group", CAP + "/groups", {"name": "New group", "pool_id": "{pool}", "shared_channels": "2",
                                       "metered_channels": "0"}, False),
    ("update_group", CAP + "/groups/{group}", {"name": "Support", "pool_id": "{pool}", "shared_channels": "5",
                                               "metered_channels": "0", "version": "1"}, False),
    ("delete_group", CAP + "/groups/{spare_group}/delete", {}, False),
    ("create_profile", PROF, {"name": "New profile", "capacity_limit": "4"}, False),
    ("update_profile", PROF + "/{profile}", {"name": "Base", "description": "Changed", "version": "1"}, False),
    ("delete_profile", PROF + "/{spare_profile}/delete", {}, False),
    ("create_rule", PROF + "/rules", {"name": "New rule", "profile_id": "{profile}", "countries": "GB",
                                      "enabled": "y"}, False),
    ("update_rule", PROF + "/rules/{rule}", {"name": "US", "profile_id": "{profile}", "countries": "US, CA",
                                            "enabled": "y", "version": "1"}, False),
    ("delete_rule", PROF + "/rules/{rule}/delete", {}, False),
]
WRITE_IDS = [w[0] for w in WRITES]


def _fill(template, objs: dict):
    if isinstance(template, list):
        return [_fill(t, objs) for t in template]
    return re.sub(r"\{(\w+)\}", lambda m: str(objs[m.group(1)]), template)


def _post(client, path, data, objs, token):
    body = {k: _fill(v, objs) for k, v in data.items()}
    if token:
        body["csrf_token"] = token
    return client.post(_fill(path, objs), data=body)


@pytest.mark.parametrize("endpoint,path,data,admin_only", WRITES, ids=WRITE_IDS)
@pytest.mark.parametrize("who", ["anonymous", "viewer", "no_csrf", "operator", "admin"])
def test_write_routes_enforce_login_roles_and_csrf(app, client, objs, endpoint, path, data, admin_only, who):
    login(app.test_client(), "admin", email="someone@example.com")  # so the app is past first run
    if who == "anonymous":
        token = csrf_from(client.get("/login").get_data(as_text=True))
    elif who == "no_csrf":
        login(client, "admin")
        token = None
    else:
        login(client, who)
        token = csrf_from(client.get(CAP).get_data(as_text=True))
    before = _snapshot(app)
    response = _post(client, path, data, objs, token)
    allowed = who == "admin" or (who == "operator" and not admin_only)
    if allowed:  # the same request succeeds for a role that may make it, so the data is a real write
        assert response.status_code == 303, response.get_data(as_text=True)[:3000]
        assert _snapshot(app) != before
        return
    expected = {"anonymous": 302, "viewer": 403, "no_csrf": 400, "operator": 403}[who]
    assert response.status_code == expected
    if who == "anonymous":
        assert "/login" in response.headers["Location"]
    assert _snapshot(app) == before


PAGES = [CAP, CAP + "/pools/{pool}", CAP + "/groups/{group}", PROF, PROF + "/{profile}", PROF + "/rules",
         PROF + "/rules/{rule}", PROF + "/rules?number=%2B14155552671"]


@pytest.mark.parametrize("page", PAGES)
def test_viewers_read_every_page_without_write_controls(app, client, objs, page):
    login(client, "viewer")
    response = client.get(_fill(page, objs))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('method="post"') == 1  # only Sign out
    for control in ("New pool", "New capacity group", "New profile", "New rule", "Delete", "Save", "Add channels"):
        assert f">{control}" not in html


@pytest.mark.parametrize("page", ["/pools/new", "/groups/new"])
def test_new_forms_follow_the_roles(app, client, objs, page):
    login(client, "operator")
    assert client.get(CAP + page).status_code == (403 if "pools" in page else 200)
    assert client.get(PROF + "/new").status_code == 200 and client.get(PROF + "/rules/new").status_code == 200


def test_capacity_page_lists_pools_and_groups(app, client, objs):
    login(client, "operator")
    html = client.get(CAP).get_data(as_text=True)
    assert "New capacity group" in html and "New pool" not in html
    row = re.search(r"<tr>\s*<th scope=\"row\"><a [^>]*>Main</a>.*?</tr>", html, re.S).group(0)
    assert [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row)] == [20, 5, 15]
    assert f'href="/numbers?capacity_group={objs["group"]}"' in html
    assert re.search(rf'capacity_group={objs["group"]}"[^>]*>1</a>', html)


def test_pool_page_for_admins_shows_the_channel_charge(app, client, objs):
    login(client, "admin")
    html = client.get(_fill(CAP + "/pools/{pool}", objs)).get_data(as_text=True)
    assert "Each channel costs $0.00 setup plus $2.50 for the 15 of 30 days" in html
    assert "Only unassigned channels (15) can be removed." in html


def _admin(client):
    login(client, "admin")
    return csrf_from(client.get(CAP).get_data(as_text=True))


def _error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}-error" class="field-error">([^<]*)<', html)
    assert match, f"no error under {field_id}"
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field_id}"', html)
    return match.group(1)


@pytest.mark.parametrize("path,data,field_id,message", [
    (CAP + "/groups", {"name": "G", "pool_id": "{pool}", "shared_channels": "0", "metered_channels": "2000"},
     "metered_channels", "Metered channels must be 0–1,000."),
    (CAP + "/groups", {"name": "G", "pool_id": "{pool}", "shared_channels": "0", "metered_channels": "0"},
     "shared_channels", "A capacity group needs at least one shared or metered channel."),
    (CAP + "/groups", {"name": "G", "pool_id": "{pool}", "shared_channels": "16", "metered_channels": "0"},
     "shared_channels", "Pool Main has only 15 unassigned channels."),
    (CAP + "/groups/{group}", {"name": "Support", "pool_id": "{pool}", "shared_channels": "20", "metered_channels": "0",
                               "version": "1"}, "shared_channels", "Pool Main has only 15 unassigned channels."),
    (CAP + "/groups/{group}", {"name": "Support", "pool_id": "{spare_pool}", "shared_channels": "0",
                               "metered_channels": "1", "version": "1"}, "pool_id", "The pool can&#39;t change while the group has numbers (1)."),
    (CAP + "/pools", {**POOL_FIELDS, "countries": "DE, XX", "quantity": "0"}, "countries", "Unknown country code: XX."),
    (CAP + "/pools", {**POOL_FIELDS, "setup_price": "1.005", "quantity": "0"}, "setup_price", "Use at most 2 decimal places."),
    (CAP + "/pools", {**POOL_FIELDS, "name": "main", "quantity": "0"}, "name", "Name is already used by another pool."),
    (CAP + "/pools/{pool}", {**POOL_FIELDS, "name": "Main", "countries": "CA", "version": "1"}, "countries",
     "Numbers from US use this pool."),
    (CAP + "/pools/{pool}/channels/remove", {"remove-quantity": "16"}, "remove-quantity",
     "Only unassigned channels can be removed (15 unassigned)."),
    (CAP + "/pools/{pool}/channels/add", {"add-quantity": "0"}, "add-quantity", "Enter a whole number of channels, 1 or more."),
    (PROF, {"name": "P", "capacity_limit": "40000"}, "capacity_limit",
     "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    (PROF + "/rules", {"name": "R", "profile_id": "{profile}", "regions": "Bavaria", "countries": "DE, AT"},
     "regions", "Regions and cities need exactly one country."),
    (PROF + "/rules", {"name": "R", "profile_id": "", "countries": "DE"}, "profile_id", "Choose a profile."),
    (PROF + "/rules/{rule}", {"name": "US", "profile_id": "{profile}", "cities": "Boston", "version": "1"},
     "cities", "Regions and cities need exactly one country."),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("/") else None)
def test_refused_writes_answer_422_with_the_message_under_the_field(app, client, objs, path, data, field_id, message):
    token = _admin(client)
    before = _snapshot(app)
    response = _post(client, path, data, objs, token)
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), field_id) == message
    assert _snapshot(app) == before


def test_a_profile_with_no_fields_is_a_form_error(app, client, objs):
    token = _admin(client)
    before = _snapshot(app)
    response = _post(client, PROF, {"name": "Empty", "description": "  "}, objs, token)
    assert response.status_code == 422
    assert re.search(r'class="form-errors"[^>]*>\s*<p>A profile must set at least one field\.</p>', response.get_data(as_text=True))
    assert _snapshot(app) == before


def test_a_short_balance_shows_under_the_quantity_and_writes_nothing(app, client, objs):
    token = _admin(client)
    with app.app_context():
        db.session.execute(sa.update(Workspace).values(balance_minor=100))
        db.session.commit()
    before = _snapshot(app)
    response = _post(client, CAP + "/pools/{pool}/channels/add", {"add-quantity": "1"}, objs, token)
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "add-quantity") == "Balance $1.00 is short of $2.50."
    assert _snapshot(app) == before


def test_adding_channels_charges_and_shows_in_history(app, client, objs):
    token = _admin(client)
    response = _post(client, CAP + "/pools/{pool}/channels/add", {"add-quantity": "2"}, objs, token)
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added 2 channels; charged $5.00." in html
    assert "capacity_pool.channels_added" in html and "Charged $5.00" in html
    with app.app_context():
        entry = db.session.scalar(sa.select(LedgerEntry))
        assert (entry.kind, entry.amount_minor, entry.balance_after_minor) == ("pool_charge", -500, 99_500)


@pytest.mark.parametrize("path,message,link", [
    (CAP + "/groups/{group}/delete", "Capacity group Support has 1 numbers. Remove them from the group first.",
     "/numbers?capacity_group={group}"),
    (CAP + "/pools/{pool}/delete", "Pool Main is used by 0 numbers and 2 capacity groups.",
     "/numbers?capacity_group={group}&amp;capacity_group={spare_group}"),
    (PROF + "/{profile}/delete", "Profile Base is used by rules: US.", None),
])
def test_refused_deletes_change_nothing_and_link_to_the_numbers(app, client, objs, path, message, link):
    token = _admin(client)
    before = _snapshot(app)
    response = _post(client, path, {}, objs, token)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert response.headers["HX-Push-Url"] == _fill(path, objs).removesuffix("/delete")  # not the POST-only URL
    if link:
        assert f'href="{_fill(link, objs)}">Show the numbers' in html
    assert _snapshot(app) == before


def test_a_stale_edit_answers_409_and_keeps_the_current_values(app, client, objs):
    token = _admin(client)
    before = _snapshot(app)
    response = _post(client, CAP + "/groups/{group}", {"name": "Renamed", "pool_id": "{pool}", "shared_channels": "4",
                                                       "metered_channels": "0", "version": "0"}, objs, token)
    assert response.status_code == 409 and "changed by someone else" in response.get_data(as_text=True)
    assert _snapshot(app) == before


def test_creating_a_profile_and_a_rule_through_the_forms(app, client, objs):
    token = _admin(client)
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-sf").id
    response = _post(client, PROF, {"name": "SF office", "voice_route_id": str(trunk), "capacity_limit": "8"}, objs, token)
    assert response.status_code == 303
    with app.app_context():
        profile = db.session.scalar(sa.select(ConfigurationProfile).where(ConfigurationProfile.name == "SF office"))
        assert (profile.voice_route_id, profile.capacity_limit, profile.sms_route_id) == (trunk, 8, None)
    response = _post(client, PROF + "/rules", {"name": "San Francisco", "profile_id": str(profile.id), "countries": "us",
                                               "number_types": ["local", "mobile"], "cities": "San Francisco, Oakland",
                                               "enabled": "y"}, objs, token)
    assert response.status_code == 303
    with app.app_context():
        rule = db.session.scalar(sa.select(Rule).where(Rule.name == "San Francisco"))
        assert (rule.countries, rule.number_types, rule.cities, rule.level) == (
            ["US"], ["local", "mobile"], ["San Francisco", "Oakland"], "city")
    html = client.get(PROF).get_data(as_text=True)
    assert re.search(r"SF office</a></th>.*?San Francisco</td>", html, re.S)


def _rules_page(client, **args):
    return client.get(PROF + "/rules", query_string=args).get_data(as_text=True)


def test_rules_page_lists_in_evaluation_order_with_filters(app, client, objs, clock):
    with app.app_context():
        profile = db.session.get(ConfigurationProfile, objs["profile"])
        other = db.session.get(ConfigurationProfile, objs["spare_profile"])
        clock.advance(minutes=1)
        profiles_service.create_rule(CLI, name="Everything", profile_id=other.id)
        profiles_service.create_rule(CLI, name="SF", profile_id=profile.id, countries=["US"], cities=["San Francisco"])
        profiles_service.create_rule(CLI, name="Mobiles", profile_id=other.id, number_types=["mobile"], enabled=False)
    login(client, "viewer")
    names = lambda html: re.findall(r'<th scope="row"><a [^>]*>([^<]+)</a></th>', html)  # noqa: E731
    html = _rules_page(client)
    assert names(html) == ["SF", "Mobiles", "US", "Everything"]
    assert re.search(r'<td class="num">1</td>\s*<th scope="row"><a [^>]*>SF</a></th>\s*<td>City</td>\s*<td>US</td>\s*'
                     r'<td>All</td>\s*<td>—</td>\s*<td>San Francisco</td>\s*<td><a [^>]*>Base</a></td>\s*<td>Yes</td>', html)
    assert names(_rules_page(client, name="e")) == ["Mobiles", "Everything"]
    assert names(_rules_page(client, country="us")) == ["SF", "US"]
    assert names(_rules_page(client, type="mobile")) == ["Mobiles"]
    assert names(_rules_page(client, profile=str(objs["spare_profile"]))) == ["Mobiles", "Everything"]
    # the order column keeps each rule's place in the whole evaluation order; disabled rules have none
    assert re.search(r'<td class="num">3</td>\s*<th scope="row"><a [^>]*>Everything', _rules_page(client, name="every"))
    assert re.search(r'<tr class="rule-off">\s*<td class="num">—</td>\s*<th scope="row"><a [^>]*>Mobiles', html)


def test_the_test_box_shows_the_winning_rule_and_its_fields(app, client, objs):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-sf")
        sf = profiles_service.create_profile(CLI, name="SF office", voice_route_id=trunk.id, capacity_limit=8)
        profiles_service.create_rule(CLI, name="San Francisco", profile_id=sf.id, countries=["US"],
                                     cities=["san francisco"])
    login(client, "viewer")
    html = _rules_page(client, number="(415) 555-2671")
    result = re.search(r'<div id="rule-test-result".*?</div>', html, re.S).group(0)
    assert "+1 415-555-2671" in result and "San Francisco" in result
    assert re.search(r"Rule <a [^>]*>San Francisco</a>\s*\(city level\) applies profile\s*<a [^>]*>SF office</a>", result)
    assert "<dt>Voice route</dt><dd>sip-sf</dd><dt>Capacity limit</dt><dd>8</dd>" in result
    assert "No rule matches." in _rules_page(client, number="+44 20 7183 8750")
    assert "US" in re.search(r"Rule <a [^>]*>([^<]+)</a>", _rules_page(client, number="+1 212 555 0100")).group(1)
    assert "Enter a valid phone number" in _rules_page(client, number="12")


def test_the_test_box_and_filters_answer_htmx_with_blocks(app, client, hx, objs, rendered):
    login(client, "viewer")
    response = hx.get(PROF + "/rules?number=%2B442071838750&name=U")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="rule-test-result"' in html and 'id="rule-list"' in html and "No rule matches." in html
    assert rendered[-1] == ("configuration/rules.html", ["rule_list", "rule_test"])


def test_edit_pages_show_history(app, client, objs):
    token = _admin(client)
    _post(client, PROF + "/{profile}", {"name": "Base", "description": "Second line", "version": "1"}, objs, token)
    html = client.get(_fill(PROF + "/{profile}", objs)).get_data(as_text=True)
    history = html[html.index('id="history"'):]
    assert "profile.updated" in history and "profile.created" in history
    assert re.search(r"<th scope=\"row\">description</th>\s*<td>Base line</td><td aria-hidden=\"true\">→</td>\s*<td>Second line</td>", history)
    for page in (CAP + "/pools/{pool}", CAP + "/groups/{group}", PROF + "/rules/{rule}"):
        assert 'id="history"' in client.get(_fill(page, objs)).get_data(as_text=True)
