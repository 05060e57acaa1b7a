"""Bad input never reaches a 5xx (issue 8 §3, §5): unicode digits, huge numbers, far dates and
unknown enum values in query strings and forms. A GET ignores the value and says so in the note
"Ignored unknown filter value"; a POST answers 422 with the message next to its field and
writes nothing."""
import html
import re
from datetime import date

import pytest
import sqlalchemy as sa

from did_app import parsing
from did_app.audit import Actor
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.form_fields import CHOOSE_MESSAGE, DATE_MESSAGE
from did_app.intake import portin
from did_app.intake.service import Common
from did_app.models import AuditEvent, CapacityPool, LedgerEntry, Number, PortInRequest, VoiceRoute, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import csrf_from, login

SUP2, CIRCLED1 = "%C2%B2", "%E2%91%A0"  # "²" and "①": str.isdigit() is True, int() refuses them
HUGE = "9" * 5000                         # past Python's 4,300-digit int() limit
OVER = str(2**63)                         # past SQLite INTEGER and PostgreSQL BIGINT
CLI = Actor(None, "cli", "cli")


@pytest.fixture
def objs(app):
    with app.app_context():
        ensure_workspace(db.session).balance_minor = 100_000
        db.session.commit()
        pool = f.make_pool(name="Main", countries=("US",), total=20, renew_date=date(2026, 12, 13))
        other_pool = f.make_pool(name="Other", countries=("GB",), total=20, renew_date=date(2026, 12, 13))
        trunk = f.make_voice_trunk(name="Berlin")
        group = f.make_voice_group(members=[trunk], name="EU")
        number = f.make_number(voice_route_id=trunk.id, dedicated_channels=2, capacity_pool_id=pool.id)
        req = portin.create_port_in(CLI, numbers_text="+16505550201\n+16505550202", details={
            "losing_carrier": "Old Telco", "account_number": None, "requested_date": None, "identity_id": None,
            "notes": None}, common=Common(monthly_price_minor=150, setup_price_minor=0, features=("voice_in",)))
        bare = f.make_number()  # no voice route: its page offers the "Apply profile…" fix
        profiles_service.create_profile(CLI, name="Base", voice_route_id=trunk.id)
        return dict(pool=pool.id, other_pool=other_pool.id, trunk=trunk.id, group=group.id, number=number.id,
                    digits=number.number[1:], port_in=req.reference, bare=bare.id, bare_digits=bare.number[1:])


def _writes(app) -> tuple:
    """What a refused request must leave unchanged: audit and ledger rows, and every version."""
    with app.app_context():
        counts = tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                       for m in (AuditEvent, LedgerEntry, Number, VoiceRoute, CapacityPool))
        versions = tuple(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(m.version), 0)))
                         for m in (Number, VoiceRoute, CapacityPool, PortInRequest))
        settings = db.session.execute(sa.select(Workspace.reminder_offsets, Workspace.name)).one()
        return counts, versions, tuple(map(str, settings))


def _note(body: str, item: str) -> bool:
    return f"Ignored unknown filter value: {item}" in html.unescape(body)


def _field_error(body: str, field: str) -> str:
    """The error text rendered next to a field (forms macro or the details page's error_for)."""
    m = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', body)
    return html.unescape(m.group(1)).strip() if m else ""


def _form_errors(body: str) -> str:
    m = re.search(r'class="form-errors"[^>]*>(.*?)</div>', body, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))) if m else ""


# ---- GET: the value is ignored and the page says so ---------------------------------------------

GETS = [
    ("/numbers?page=" + SUP2, "page=²"),
    ("/numbers?per_page=" + CIRCLED1, "per_page=①"),
    ("/numbers?expires_to=9999-12-31", "expires_to=9999-12-31"),
    ("/numbers?expires_from=0001-01-01", "expires_from=0001-01-01"),
    ("/numbers?page=" + HUGE, parsing.ignored_item("page", HUGE)),
    ("/numbers?voice_route=" + OVER, f"voice_route={OVER}"),
    ("/numbers?cycles=" + SUP2, "cycles=²"),
    ("/numbers?expires_within=" + HUGE, parsing.ignored_item("expires_within", HUGE)),
    ("/activity?date_to=9999-12-31", "date_to=9999-12-31"),
    ("/activity?page=" + SUP2, "page=²"),
    ("/configuration/trunks?group=99999999999999999999", "group=99999999999999999999"),
    ("/configuration/trunks?kind=bogus", "kind=bogus"),
    ("/configuration/sms-trunks?group=" + SUP2, "group=²"),
    ("/billing?date_to=9999-12-31", "date_to=9999-12-31"),
    ("/billing?page=" + CIRCLED1, "page=①"),
    ("/billing/numbers?date_to=9999-12-31", "date_to=9999-12-31"),
    ("/billing/released?date_to=9999-12-31&page=" + SUP2, "date_to=9999-12-31"),
    ("/orders?page=" + SUP2, "page=²"),
    ("/orders?kind=bogus", "kind=bogus"),
    ("/port-ins?page=" + CIRCLED1, "page=①"),
    ("/port-ins?status=bogus", "status=bogus"),
]


@pytest.mark.parametrize("url, item", GETS, ids=[g[0][:60] for g in GETS])
def test_a_bad_filter_value_is_ignored_with_a_note(app, client, objs, url, item):
    login(client, "admin")
    response = client.get(url)
    assert response.status_code == 200
    assert _note(response.get_data(as_text=True), item)


def test_the_note_also_comes_with_the_htmx_fragment(app, client, objs):
    login(client, "admin")
    response = client.get("/activity?date_from=2026-02-30", headers={"HX-Request": "true"})
    assert response.status_code == 200 and _note(response.get_data(as_text=True), "date_from=2026-02-30")


def test_a_valid_far_date_still_filters(app, client, objs):
    login(client, "admin")
    body = client.get("/numbers?expires_to=9000-12-31").get_data(as_text=True)
    assert "Ignored unknown filter value" not in body and objs["digits"][-4:] in body


@pytest.mark.parametrize("raw", [SUP2, HUGE, "0", OVER])
def test_the_forecast_csv_falls_back_to_the_default_horizon(app, client, objs, raw):
    login(client, "admin")
    response = client.get("/billing/forecast.csv?days=" + raw)
    assert response.status_code == 200 and response.mimetype == "text/csv"


# ---- POST: 422 next to the field, nothing written ------------------------------------------------

def _post(client, path, data, htmx=False):
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    headers = {"HX-Request": "true", "HX-Current-URL": "http://localhost/numbers"} if htmx else {}
    return client.post(path, data={"csrf_token": token, **data}, headers=headers)


def _version(app, model, obj_id):
    with app.app_context():
        return db.session.get(model, obj_id).version


CELL_POSTS = [  # (field, form data without version, expected message)
    ("voice_route", {"value": "²"}, "Choose a route from the list."),
    ("voice_route", {"value": OVER}, "Choose a route from the list."),
    ("sms_route", {"value": HUGE}, "Choose a route from the list."),
    ("capacity_limit", {"value": "①"}, "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    ("capacity_limit", {"value": HUGE}, "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    ("renewal", {"mode": "count", "count": "²"}, "Enter a whole number of renewals from 1 to 999."),
    ("renewal", {"mode": "bogus", "count": ""}, "Choose a renewal mode from the list."),
]


@pytest.mark.parametrize("field, data, message", CELL_POSTS, ids=[f"{c[0]}-{str(c[1])[:30]}" for c in CELL_POSTS])
def test_an_inline_edit_refuses_unreadable_values(app, client, objs, field, data, message):
    login(client, "operator")
    before = _writes(app)
    version = _version(app, Number, objs["number"])
    response = _post(client, f"/numbers/{objs['number']}/cells/{field}", {"version": version, **data}, htmx=True)
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    assert _writes(app) == before


@pytest.mark.parametrize("version", ["²", "①", "", HUGE, OVER, "-1"])
def test_an_inline_edit_without_a_valid_version_is_refused(app, client, objs, version):
    login(client, "operator")
    before = _writes(app)
    response = _post(client, f"/numbers/{objs['number']}/cells/description",
                     {"version": version, "value": "changed"}, htmx=True)
    assert response.status_code == 422
    assert parsing.VERSION_MESSAGE in html.unescape(response.get_data(as_text=True))
    assert _writes(app) == before


SECTION_POSTS = [  # (section, data without version, field the message sits next to, message)
    ("capacity", {"next_capacity_mode": "bogus", "next_monthly_price": "2.00"}, "next_capacity_mode",
     "Choose 2 included or 0 included."),
    ("fix", {"capacity_pool_id": "99999"}, "capacity_pool_id", "That capacity pool no longer exists."),
    ("fix", {"capacity_pool_id": OVER}, "capacity_pool_id", "Choose one from the list."),
    ("fix", {"capacity_pool_id": "{other_pool}"}, "dedicated_channels", "Pool Other does not cover US."),
    ("fix", {"capacity_group_id": "²"}, "capacity_group_id", "Choose one from the list."),
    ("capacity", {"dedicated_channels": HUGE}, "dedicated_channels",
     "Enter a whole number of channels from 0 to 32,767."),
    ("trunks", {"voice_route_id": "99999999999999999999"}, "voice_route_id", "Choose one from the list."),
    ("billing", {"mode": "count", "count": "①"}, "billing_cycles_count",
     "Enter a whole number of renewals from 1 to 999."),
]


@pytest.mark.parametrize("section, data, field, message", SECTION_POSTS,
                         ids=[f"{s[0]}-{s[2]}-{str(s[1])[:24]}" for s in SECTION_POSTS])
def test_a_details_form_refuses_next_to_the_field(app, client, objs, section, data, field, message):
    login(client, "operator")
    before = _writes(app)
    data = {k: v.format(**objs) for k, v in data.items()}
    response = _post(client, f"/numbers/{objs['digits']}/sections/{section}",
                     {"version": _version(app, Number, objs["number"]), **data})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), field) == message
    assert _writes(app) == before


def test_a_pool_alone_moves_the_channels_when_it_covers_the_number(app, client, objs):
    login(client, "operator")
    with app.app_context():
        spare = f.make_pool(name="Spare", countries=("US",), total=10, renew_date=date(2026, 12, 13)).id
    response = _post(client, f"/numbers/{objs['digits']}/sections/fix",
                     {"version": _version(app, Number, objs["number"]), "capacity_pool_id": str(spare)})
    assert response.status_code == 303
    with app.app_context():
        number = db.session.get(Number, objs["number"])
        assert (number.capacity_pool_id, number.dedicated_channels) == (spare, 2)


@pytest.mark.parametrize("data, message", [
    ({"version": "²"}, parsing.VERSION_MESSAGE),
    ({"version": "{version}", "profile_id": "²"}, "Choose a profile."),
    ({"version": "{version}", "profile_id": OVER}, "Choose a profile."),
])
def test_apply_profile_refuses_unreadable_ids(app, client, objs, data, message):
    login(client, "operator")
    before = _writes(app)
    version = _version(app, Number, objs["bare"])
    response = _post(client, f"/numbers/{objs['bare_digits']}/apply-profile",
                     {k: v.format(version=version) for k, v in data.items()})
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    assert _writes(app) == before


@pytest.mark.parametrize("data, message", [
    ({"version": "²", "months": "1"}, parsing.VERSION_MESSAGE),
    ({"months": "1"}, parsing.VERSION_MESSAGE),
    ({"version": "{version}", "months": "²"}, "Choose 1, 3, 6, 12 or 24 months."),
    ({"version": "{version}", "months": HUGE}, "Choose 1, 3, 6, 12 or 24 months."),
])
def test_a_lifecycle_action_refuses_unreadable_values(app, client, objs, data, message):
    login(client, "operator")
    before = _writes(app)
    version = _version(app, Number, objs["number"])
    response = _post(client, f"/numbers/{objs['digits']}/lifecycle/renew",
                     {k: v.format(version=version) for k, v in data.items()})
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))
    assert _writes(app) == before


# ---- intake --------------------------------------------------------------------------------------

ADD = {"tab": "single", "number": "+14155550300", "monthly_price": "1.50", "setup_price": "0", "features": "voice_in",
       "allow_additional_channels": "y", "channels_included": "300"}


@pytest.mark.parametrize("data, field, message", [
    ({"billing_cycles": "²"}, "billing_cycles", "Enter a whole number from 0 to 999, or leave blank for unlimited."),
    ({"voice_route_id": "99999999999999999999"}, "voice_route_id", CHOOSE_MESSAGE),
    ({"capacity_group_id": "①"}, "capacity_group_id", CHOOSE_MESSAGE),
    ({"capacity_limit": "١٢"}, "capacity_limit", "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    ({"capacity_mode": "fixed", "channels_included": HUGE}, "channels_included",
     "Enter a whole number of channels from 1 to 10,000."),
    ({"paid_until": "9999-12-31"}, "paid_until", DATE_MESSAGE),
    ({"number_type": "bogus"}, "number_type", "Choose a value from the list."),
])
def test_adding_numbers_refuses_next_to_the_field(app, client, objs, data, field, message):
    login(client, "operator")
    before = _writes(app)
    for step in ("preview", "confirm"):
        response = _post(client, f"/numbers/add/{step}", {**ADD, **data})
        assert response.status_code == 422
        assert _field_error(response.get_data(as_text=True), field) == message
    assert _writes(app) == before


@pytest.mark.parametrize("path, data", [
    ("", {"losing_carrier": "New Telco"}),
    ("/numbers", {"numbers": "+14155550203"}),
    ("/status", {"target": "cancelled", "comment": "bye"}),
])
@pytest.mark.parametrize("version", [None, "²", OVER])
def test_port_in_edits_need_their_version(app, client, objs, path, data, version):
    login(client, "admin")
    before = _writes(app)
    body = {**data, **({"version": version} if version is not None else {})}
    response = _post(client, f"/port-ins/{objs['port_in']}{path}", body)
    assert response.status_code == 422
    assert parsing.VERSION_MESSAGE in _form_errors(response.get_data(as_text=True))
    assert _writes(app) == before


@pytest.mark.parametrize("number_id", ["²", OVER, HUGE])
def test_removing_port_in_numbers_refuses_unreadable_ids(app, client, objs, number_id):
    login(client, "admin")
    before = _writes(app)
    version = _version_of_port_in(app, objs["port_in"])
    response = _post(client, f"/port-ins/{objs['port_in']}/numbers/remove",
                     {"version": version, "number_id": number_id})
    assert response.status_code == 422
    assert "Choose the numbers from the list." in _form_errors(response.get_data(as_text=True))
    assert _writes(app) == before


def _version_of_port_in(app, reference):
    with app.app_context():
        return db.session.scalar(sa.select(PortInRequest.version).where(PortInRequest.reference == reference))


# ---- configuration -------------------------------------------------------------------------------

POOL = {"name": "Main", "countries": "US", "setup_price": "1.00", "monthly_price": "8.00", "renew_date": "2026-12-20"}
CAP = "/configuration/capacity"


@pytest.mark.parametrize("data, where, message", [
    ({}, "form", parsing.VERSION_MESSAGE),
    ({"version": "²"}, "form", parsing.VERSION_MESSAGE),
    ({"version": "1", "renew_date": "9999-12-31"}, "renew_date", DATE_MESSAGE),
    ({"version": "1", "renew_date": "２０２６-12-20"}, "renew_date", DATE_MESSAGE),
])
def test_a_pool_edit_refuses_a_missing_version_and_far_dates(app, client, objs, data, where, message):
    login(client, "admin")
    before = _writes(app)
    response = _post(client, f"{CAP}/pools/{objs['pool']}", {**POOL, **data})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in (_form_errors(body) if where == "form" else _field_error(body, where))
    assert _writes(app) == before


@pytest.mark.parametrize("field, value, message", [
    ("setup_price", "Infinity", "Enter an amount such as 12.50."),
    ("monthly_price", "1e30", "Enter an amount such as 12.50."),
    ("metered_rate", "-Infinity", "Enter a rate such as 0.0065."),
    ("metered_rate", "sNaN", "Enter a rate such as 0.0065."),
])
def test_a_new_pool_refuses_amounts_no_decimal_can_hold(app, client, objs, field, value, message):
    login(client, "admin")
    before = _writes(app)
    response = _post(client, f"{CAP}/pools", {**POOL, "name": "New", "quantity": "0", field: value})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), field) == message
    assert _writes(app) == before


@pytest.mark.parametrize("quantity", ["²", "١٢", HUGE, OVER])
def test_adding_channels_refuses_unreadable_quantities(app, client, objs, quantity):
    login(client, "admin")
    before = _writes(app)
    response = _post(client, f"{CAP}/pools/{objs['pool']}/channels/add", {"add-quantity": quantity})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "add-quantity") == "Enter a whole number of channels, 1 or more."
    assert _writes(app) == before


@pytest.mark.parametrize("data, field, message", [
    ({"pool_id": OVER}, "pool_id", "Choose a pool."),
    ({"shared_channels": OVER}, "shared_channels", "Enter a whole number of channels, 0 or more."),
    ({"metered_channels": "①"}, "metered_channels", "Metered channels must be 0–1,000."),
])
def test_a_capacity_group_refuses_unreadable_numbers(app, client, objs, data, field, message):
    login(client, "operator")
    before = _writes(app)
    form = {"name": "New group", "pool_id": str(objs["pool"]), "shared_channels": "1", "metered_channels": "0"}
    response = _post(client, f"{CAP}/groups", {**form, **data})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), field) == message
    assert _writes(app) == before


TRUNKS = "/configuration/trunks"
SIP = {"name": "Berlin", "host": "pbx.example.com", "port": "5060", "username": "{DID}", "transport": "udp",
       "media_encryption": "disabled", "cli_format": "e164", "priority": "1", "weight": "100",
       "codecs": ["PCMU"], "codecs_order": ["PCMU"]}


@pytest.mark.parametrize("data, where, message", [
    ({"group_id": "{group}"}, "form", parsing.VERSION_MESSAGE),
    ({"group_id": "{group}", "version": "①"}, "form", parsing.VERSION_MESSAGE),
    ({"group_id": OVER, "version": "{version}"}, "group_id", "Choose an option from the list."),
    ({"group_id": "²", "version": "{version}"}, "group_id", "Choose an option from the list."),
    ({"group_id": "", "version": "{version}", "priority": HUGE}, "priority", "Priority must be 0–65,535."),
    ({"group_id": "", "version": "{version}", "port": "١٢"}, "port", "Port must be 1–65,535, or blank."),
])
def test_a_trunk_edit_refuses_unreadable_values(app, client, objs, data, where, message):
    login(client, "operator")
    before = _writes(app)
    version = _version(app, VoiceRoute, objs["trunk"])
    body = {**SIP, **{k: v.format(version=version, **objs) for k, v in data.items()}}
    response = _post(client, f"{TRUNKS}/{objs['trunk']}", body)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in (_form_errors(page) if where == "form" else _field_error(page, where))
    assert _writes(app) == before


def test_a_new_trunk_with_an_unknown_group_id_is_refused(app, client, objs):
    login(client, "operator")
    before = _writes(app)
    response = _post(client, f"{TRUNKS}/new/sip", {**SIP, "name": "New", "group_id": OVER})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "group_id") == "Choose an option from the list."
    assert _writes(app) == before


@pytest.mark.parametrize("members", [[OVER], ["²"], [HUGE]])
def test_a_trunk_group_refuses_unreadable_member_ids(app, client, objs, members):
    login(client, "operator")
    before = _writes(app)
    response = _post(client, f"{TRUNKS}/groups/{objs['group']}",
                     {"name": "EU", "version": _version(app, VoiceRoute, objs["group"]), "members": members})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "members") == "Choose trunks from the list."
    assert _writes(app) == before


@pytest.mark.parametrize("value", ["²", HUGE, OVER])
def test_member_order_refuses_unreadable_numbers(app, client, objs, value):
    login(client, "operator")
    before = _writes(app)
    response = _post(client, f"{TRUNKS}/groups/{objs['group']}/order",
                     {f"priority-{objs['trunk']}": value, f"weight-{objs['trunk']}": "100"})
    assert response.status_code == 422
    assert "Priority must be 0–65,535." in html.unescape(response.get_data(as_text=True))
    assert _writes(app) == before


def test_member_order_ignores_fields_that_name_no_trunk(app, client, objs):
    login(client, "operator")
    before = _writes(app)
    response = _post(client, f"{TRUNKS}/groups/{objs['group']}/order",
                     {f"priority-{OVER}": "1", "priority-²": "1", f"priority-{objs['trunk']}": "x"})
    assert response.status_code == 422
    assert _writes(app) == before


# ---- settings ------------------------------------------------------------------------------------

SETTINGS = {"workspace_name": "Ops", "currency": "USD", "time_zone": "UTC", "default_country": "US",
            "warn_days": "7", "critical_days": "2", "forecast_horizon_days": "30",
            "registration_deadline_days": "30", "resubmit_grace_days": "7", "aging_pool_days": "34",
            "restore_window_days": "35", "undo_window_hours": "24", "digest_hour": "8"}


@pytest.mark.parametrize("offsets", ["²", "30, ①", HUGE, "7, " + OVER])
def test_reminder_offsets_refuse_unicode_digits_and_huge_numbers(app, client, objs, offsets):
    login(client, "admin")
    before = _writes(app)
    response = _post(client, "/settings", {**SETTINGS, "reminder_offsets": offsets})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "reminder_offsets") in (
        "Enter whole numbers of days separated by commas, e.g. 30, 7, 1.",
        "Enter 1–6 different offsets, each 1–365 days.")
    assert _writes(app) == before


# ---- found by the route fuzzer (tests/test_fuzz_routes.py) ---------------------------------------

def test_a_row_save_without_htmx_goes_back_to_the_table(app, client, objs):
    """The row save exists for htmx; a classic post (no HX-Request) is answered as a page."""
    login(client, "operator")
    version = _version(app, Number, objs["number"])
    response = _post(client, f"/numbers/{objs['number']}/cells/description", {"version": version, "value": "plain"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/numbers")
    assert _version(app, Number, objs["number"]) == version + 1
    before = _writes(app)
    stale = _post(client, f"/numbers/{objs['number']}/cells/description", {"version": version, "value": "again"})
    assert stale.status_code == 409 and "Your edit was not saved." in html.unescape(stale.get_data(as_text=True))
    assert _writes(app) == before


@pytest.mark.parametrize("side", ["add", "remove"])
@pytest.mark.parametrize("quantity", ["\xa0", " ", "\u3000"])
def test_a_channel_quantity_of_whitespace_is_required(app, client, objs, side, quantity):
    login(client, "admin")
    before = _writes(app)
    response = _post(client, f"{CAP}/pools/{objs['pool']}/channels/{side}", {f"{side}-quantity": quantity})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), f"{side}-quantity") == "Enter a whole number of channels, 1 or more."
    assert _writes(app) == before


def test_a_number_page_with_unicode_digits_is_not_found(app, client, objs):
    login(client, "viewer")
    assert client.get("/numbers/%C2%B2%C2%B3").status_code == 404


@pytest.mark.parametrize("url, item", [
    ("/numbers?description=" + "x" * 60_000, parsing.ignored_item("description", "x" * 60_000)),
    ("/numbers?order=" + "x" * 60_000, parsing.ignored_item("order", "x" * 60_000)),
    ("/numbers/export.csv?description=" + "x" * 60_000, None),
])
def test_a_filter_text_longer_than_any_stored_value_is_ignored(app, client, objs, url, item):
    """SQLite refuses a LIKE pattern over 50,000 bytes ("pattern too complex"); no description is
    over 255 characters and no reference over 100, so such a filter can match nothing."""
    login(client, "admin")
    response = client.get(url)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    if item:
        assert _note(body, item)
    else:
        assert objs["digits"] in body  # the CSV lists every number: the filter was ignored


def test_a_search_word_longer_than_any_description_finds_nothing(app, client, objs):
    login(client, "admin")
    response = client.get("/numbers?q=" + "x" * 100_000)
    assert response.status_code == 200 and objs["digits"][-4:] not in response.get_data(as_text=True)


def test_control_characters_are_stripped_from_posted_text(app, client, objs):
    """PostgreSQL refuses NUL in any text; the forms drop C0 controls (not tab or newline)."""
    login(client, "admin")
    version = _version_of_port_in(app, objs["port_in"])
    response = _post(client, f"/port-ins/{objs['port_in']}/status",
                     {"version": version, "target": "cancelled", "comment": "bye\x00\x07 now"})
    assert response.status_code == 303
    response = _post(client, f"{TRUNKS}/{objs['trunk']}",
                     {**SIP, "name": "Ber\x00lin", "description": "a\x1bb", "group_id": str(objs["group"]),
                      "version": _version(app, VoiceRoute, objs["trunk"])})
    assert response.status_code == 303
    with app.app_context():
        req = db.session.scalar(sa.select(PortInRequest).where(PortInRequest.reference == objs["port_in"]))
        trunk = db.session.get(VoiceRoute, objs["trunk"])
        assert (req.status_comment, trunk.name, trunk.description) == ("bye now", "Berlin", "ab")
        assert "\x00" not in str(db.session.scalars(sa.select(AuditEvent.note)).all())


def test_a_blank_comment_of_control_characters_is_refused(app, client, objs):
    login(client, "admin")
    before = _writes(app)
    response = _post(client, f"/port-ins/{objs['port_in']}/status",
                     {"version": _version_of_port_in(app, objs["port_in"]), "target": "cancelled", "comment": "\r\n\x00"})
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "comment") == "Enter a comment: it is required for Cancelled."
    assert _writes(app) == before
