"""Voice and SMS trunks and groups: rules, messages, membership, status recompute, delete
protection and audit (configuration.md §1–§4, §7)."""
import json

import pytest
import sqlalchemy as sa

from did_app import filters
from did_app.audit import Actor
from did_app.configuration import routes_queries
from did_app.configuration import routes_service as rs
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import AuditEvent, ConfigurationProfile, Number, SmsRoute, VoiceRoute
from did_app.rules import routes
from tests import factories as f

ACTOR = Actor(None, "cli", "cli")
SIP = {"name": "Main PBX", "host": "pbx.example.com"}


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def problems(excinfo) -> dict:
    return dict(excinfo.value.problems)


def status_of(number_id) -> str:
    db.session.expire_all()
    return db.session.get(Number, number_id).status


def audits(action=None, object_id=None):
    q = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action:
        q = q.where(AuditEvent.action == action)
    if object_id:
        q = q.where(AuditEvent.object_id == object_id)
    return db.session.scalars(q).all()


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ---- §1 names ------------------------------------------------------------------------------------

def test_voice_names_are_unique_across_trunks_and_groups_after_trim_and_case(ctx):
    f.make_voice_group(name="Main PBX")
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_voice_trunk(ACTOR, "sip", {**SIP, "name": "  main pbx "})
    assert problems(exc) == {"name": "Name is already used by a trunk or trunk group."}
    f.make_voice_trunk(name="Edge")
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_trunk_group(ACTOR, {"name": "EDGE"}, [])
    assert problems(exc) == {"name": "Name is already used by a trunk or trunk group."}
    # the SMS space is separate
    trunk, _ = rs.create_sms_trunk(ACTOR, "smpp_esme", {"name": "Main PBX", "server_location": "Frankfurt"})
    assert trunk.id


def test_sms_names_are_unique_across_sms_trunks_and_groups(ctx):
    f.make_sms_group(name="Inbound")
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_sms_trunk(ACTOR, "smpp_esme", {"name": " INBOUND", "server_location": "Ashburn"})
    assert problems(exc) == {"name": "Name is already used by an SMS trunk or SMS trunk group."}
    f.make_sms_trunk(name="Webhook")
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_sms_group(ACTOR, {"name": "webhook"}, [])
    assert problems(exc) == {"name": "Name is already used by an SMS trunk or SMS trunk group."}


def test_renaming_keeps_its_own_name_free_and_stores_the_trimmed_name(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", {**SIP, "name": "  Office  "})
    assert (trunk.name, trunk.name_key) == ("Office", "office")
    trunk, _ = rs.update_voice_trunk(ACTOR, trunk.id, {**SIP, "name": "OFFICE"})
    assert trunk.name_key == "office"


# ---- §2 voice trunks -------------------------------------------------------------------------------

def test_a_sip_trunk_gets_the_documented_defaults(ctx):
    trunk, notices = rs.create_voice_trunk(ACTOR, "sip", SIP)
    assert notices == []
    assert (trunk.kind, trunk.trunk_kind, trunk.port, trunk.username, trunk.transport) == ("trunk", "sip", 5060, "{DID}", "udp")
    assert trunk.codecs == ["PCMU", "PCMA", "G729", "G723", "telephone-event"]
    assert (trunk.priority, trunk.weight, trunk.cli_format, trunk.media_encryption) == (1, 100, "e164", "disabled")
    assert trunk.capacity_limit is None and trunk.auth_enabled is False
    assert trunk.summary == "sip:{DID}@pbx.example.com:5060;udp"


def test_a_blank_port_means_dns_srv(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", {**SIP, "port": None})
    assert trunk.port is None


@pytest.mark.parametrize("kind,field,value,message", [
    ("sip", "name", "", "Enter a name."),
    ("sip", "name", "x" * 101, "Name must be 1–100 characters."),
    ("sip", "description", "x" * 256, "Description must be at most 255 characters."),
    ("sip", "capacity_limit", 0, "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    ("sip", "capacity_limit", 32768, "Enter a whole number from 1 to 32,767, or leave blank for no limit."),
    ("sip", "priority", 65536, "Priority must be 0–65,535."),
    ("sip", "priority", -1, "Priority must be 0–65,535."),
    ("sip", "weight", 65536, "Weight must be 0–65,535."),
    ("sip", "cli_prefix", "12345678", "CLI prefix may hold up to 7 letters, digits, + or #."),
    ("sip", "cli_prefix", "12-3", "CLI prefix may hold up to 7 letters, digits, + or #."),
    ("sip", "ringing_timeout", 0, "Ringing timeout must be 1–120 seconds."),
    ("sip", "ringing_timeout", 121, "Ringing timeout must be 1–120 seconds."),
    ("sip", "host", "", "Enter a host name or IP address."),
    ("sip", "host", "bad host!", "Enter a host name or IP address."),
    ("sip", "host", "-pbx.example.com", "Enter a host name or IP address."),
    ("sip", "port", 0, "Port must be 1–65,535, or blank."),
    ("sip", "port", 65536, "Port must be 1–65,535, or blank."),
    ("sip", "username", "in bound", "Username can't contain spaces or @."),
    ("sip", "username", "me@example", "Username can't contain spaces or @."),
    ("sip", "codecs", [], "Choose at least one codec."),
    ("sip", "codecs", ["PCMU", "OPUS"], "Choose each codec once, from the list."),
    ("sip", "transport", "sctp", "Choose an option from the list."),
    ("pstn", "destination", "12345", "Enter a valid phone number in international format."),
    ("pstn", "destination", "", "Enter a valid phone number in international format."),
    ("pstn", "per_minute_rate", "-0.01", "Enter a rate of 0 or more, with up to 6 decimal places."),
    ("pstn", "per_minute_rate", "0.0000001", "Enter a rate of 0 or more, with up to 6 decimal places."),
])
def test_voice_trunk_field_rules(ctx, kind, field, value, message):
    base = SIP if kind == "sip" else {"name": "Reception", "destination": "+442071838750"}
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_voice_trunk(ACTOR, kind, {**base, field: value})
    assert problems(exc)[field] == message
    assert count(VoiceRoute) == 0 and count(AuditEvent) == 0


@pytest.mark.parametrize("host", ["203.0.113.7", "2001:db8::1", "[2001:db8::1]", "sip.example.com", "pbx"])
def test_hosts_may_be_names_or_ip_addresses(ctx, host):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", {**SIP, "host": host})
    assert trunk.host == host


def test_every_broken_rule_is_reported_at_once(ctx):
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_voice_trunk(ACTOR, "sip", {"name": "", "host": "", "codecs": [], "ringing_timeout": 500})
    assert set(problems(exc)) == {"name", "host", "codecs", "ringing_timeout"}


def test_pstn_destination_is_stored_as_e164_with_its_rate(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "pstn", {"name": "Reception", "destination": "+44 20 7183 8750",
                                                     "per_minute_rate": "0.0125"})
    assert trunk.destination == "+442071838750" and str(trunk.per_minute_rate) == "0.012500"
    assert trunk.summary == "+442071838750" and trunk.host is None


def test_cli_prefix_allows_letters_digits_plus_and_hash(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", {**SIP, "cli_prefix": "#31#+aB"})
    assert trunk.cli_prefix == "#31#+aB"


def test_auth_needs_both_user_and_password_or_neither(ctx):
    for values in ({"auth_enabled": True, "auth_user": "did1"},
                   {"auth_enabled": True, "auth_password": "secret"},
                   {"auth_enabled": False, "auth_user": "did1"},
                   {"auth_enabled": False, "auth_password": "secret"}):
        with pytest.raises(rs.RouteInvalid) as exc:
            rs.create_voice_trunk(ACTOR, "sip", {**SIP, **values})
        assert problems(exc) == {"auth_user": "Enter a user and password, or turn authentication off."}
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", {**SIP, "auth_enabled": True, "auth_user": "did1",
                                                    "auth_password": "first-secret"})
    assert (trunk.auth_user, trunk.auth_password) == ("did1", "first-secret")


def test_auth_password_is_write_only_kept_when_blank_and_never_audited(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", {**SIP, "auth_enabled": True, "auth_user": "did1",
                                                    "auth_password": "first-secret"})
    same = {**SIP, "auth_enabled": True, "auth_user": "did1", "auth_password": None}
    trunk, _ = rs.update_voice_trunk(ACTOR, trunk.id, {**same, "description": "kept"})
    assert trunk.auth_password == "first-secret"
    trunk, _ = rs.update_voice_trunk(ACTOR, trunk.id, {**same, "description": "kept", "auth_password": "second-secret"})
    assert trunk.auth_password == "second-secret"
    replaced = audits("trunk.updated")[-1]
    assert replaced.before == {"auth_password": "changed"} and replaced.after == {"auth_password": "changed"}
    created = audits("trunk.created")[0]
    assert created.after["auth_password"] == "changed"
    dumped = json.dumps([[a.before, a.after] for a in audits()])
    assert "first-secret" not in dumped and "second-secret" not in dumped
    # turning authentication off clears user and password
    trunk, _ = rs.update_voice_trunk(ACTOR, trunk.id, {**SIP, "description": "kept"})
    assert (trunk.auth_user, trunk.auth_password) == (None, None)


def test_kind_is_fixed_after_create(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", SIP)
    trunk, _ = rs.update_voice_trunk(ACTOR, trunk.id, {**SIP, "kind": "pstn", "trunk_kind": "pstn",
                                                       "destination": "+442071838750"})
    assert trunk.trunk_kind == "sip" and trunk.destination is None


def test_a_stale_version_is_a_conflict_and_saves_nothing(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", SIP)
    old = trunk.version
    rs.update_voice_trunk(ACTOR, trunk.id, {**SIP, "description": "first"}, version=old)
    with pytest.raises(Conflict):
        rs.update_voice_trunk(ACTOR, trunk.id, {**SIP, "description": "second"}, version=old)
    db.session.expire_all()
    assert db.session.get(VoiceRoute, trunk.id).description == "first"


def test_sdes_hint_applies_without_tls():
    assert routes.sdes_in_clear("udp", "srtp_sdes") and routes.sdes_in_clear("tcp", "srtp_sdes")
    assert not routes.sdes_in_clear("tls", "srtp_sdes") and not routes.sdes_in_clear("udp", "srtp_dtls")


def test_updates_audit_only_the_changed_fields(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", SIP)
    rs.update_voice_trunk(ACTOR, trunk.id, {**SIP, "capacity_limit": 30, "codecs": ["PCMA", "PCMU"]})
    row = audits("trunk.updated")[-1]
    assert (row.object_type, row.object_id, row.object_label) == ("trunk", trunk.id, "Main PBX")
    assert row.before == {"capacity_limit": None, "codecs": ["PCMU", "PCMA", "G729", "G723", "telephone-event"]}
    assert row.after == {"capacity_limit": 30, "codecs": ["PCMA", "PCMU"]}
    before = count(AuditEvent)
    rs.update_voice_trunk(ACTOR, trunk.id, {**SIP, "capacity_limit": 30, "codecs": ["PCMA", "PCMU"]})
    assert count(AuditEvent) == before  # nothing changed, nothing recorded


# ---- §3 trunk groups -----------------------------------------------------------------------------------

def test_a_group_holds_at_most_ten_trunks(ctx):
    trunks = [f.make_voice_trunk() for _ in range(11)]
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_trunk_group(ACTOR, {"name": "Big"}, [t.id for t in trunks])
    assert problems(exc) == {"members": "A trunk group holds at most 10 trunks."}
    assert count(VoiceRoute) == 11
    group, _ = rs.create_trunk_group(ACTOR, {"name": "Big"}, [t.id for t in trunks[:10]])
    extra = trunks[10]
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.update_voice_trunk(ACTOR, extra.id, {"name": extra.name, "host": extra.host, "group_id": group.id})
    assert problems(exc) == {"group_id": "A trunk group holds at most 10 trunks."}
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_voice_trunk(ACTOR, "sip", {**SIP, "group_id": group.id})
    assert problems(exc) == {"group_id": "A trunk group holds at most 10 trunks."}
    db.session.expire_all()
    assert db.session.get(VoiceRoute, extra.id).group_id is None


def test_an_empty_group_is_allowed_and_cannot_contain_a_group(ctx):
    group, notices = rs.create_trunk_group(ACTOR, {"name": "Empty", "capacity_limit": 60}, [])
    assert notices == [] and group.capacity_limit == 60
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_trunk_group(ACTOR, {"name": "Nested"}, [group.id])
    assert problems(exc) == {"members": "Choose trunks from the list."}


def test_adding_a_trunk_from_another_group_moves_it_with_a_notice(ctx):
    trunk = f.make_voice_trunk(name="Berlin")
    first = f.make_voice_group(members=[trunk], name="EU")
    second, notices = rs.create_trunk_group(ACTOR, {"name": "DACH"}, [trunk.id])
    assert notices == ["Moved Berlin from EU."]
    db.session.expire_all()
    assert db.session.get(VoiceRoute, trunk.id).group_id == second.id
    moved = audits("trunk.updated", trunk.id)[-1]
    assert (moved.before, moved.after) == ({"group": "EU"}, {"group": "DACH"})
    lost = audits("trunk_group.updated", first.id)[-1]
    assert lost.before == {"members": ["Berlin · priority 1 · weight 100"]} and lost.after == {"members": []}
    # choosing another group on the trunk form moves it too
    third = f.make_voice_group(name="Global")
    _, notices = rs.update_voice_trunk(ACTOR, trunk.id, {"name": "Berlin", "host": "b.example.com",
                                                         "group_id": third.id})
    assert notices == ["Moved Berlin from DACH."]


def test_leaving_members_out_detaches_them(ctx):
    a, b = f.make_voice_trunk(name="A"), f.make_voice_trunk(name="B")
    group = f.make_voice_group(members=[a, b], name="G")
    rs.update_trunk_group(ACTOR, group.id, {"name": "G"}, [b.id])
    db.session.expire_all()
    assert db.session.get(VoiceRoute, a.id).group_id is None
    assert db.session.get(VoiceRoute, b.id).group_id == group.id
    row = audits("trunk_group.updated", group.id)[-1]
    assert row.after == {"members": ["B · priority 1 · weight 100"]}


def test_last_member_leaving_a_group_in_use_makes_its_numbers_not_configured(ctx):
    trunk = f.make_voice_trunk()
    group = f.make_voice_group(members=[trunk])
    number = f.make_number(voice_route_id=group.id)
    untouched = f.make_number(voice_route_id=trunk.id)
    assert status_of(number.id) == "active"
    rs.update_trunk_group(ACTOR, group.id, {"name": group.name}, [])
    assert status_of(number.id) == "not_configured"
    assert status_of(untouched.id) == "active"  # the trunk itself still routes
    rs.update_trunk_group(ACTOR, group.id, {"name": group.name}, [trunk.id])
    assert status_of(number.id) == "active"


def test_moving_the_last_member_away_recomputes_the_group_it_left(ctx):
    trunk = f.make_voice_trunk(name="Solo")
    old = f.make_voice_group(members=[trunk], name="Old")
    number = f.make_number(voice_route_id=old.id)
    new, notices = rs.create_trunk_group(ACTOR, {"name": "New"}, [trunk.id])
    assert notices == ["Moved Solo from Old."]
    assert status_of(number.id) == "not_configured"
    rs.update_voice_trunk(ACTOR, trunk.id, {"name": "Solo", "host": "solo.example.com", "group_id": old.id})
    assert status_of(number.id) == "active"


def test_try_order_and_share_within_priority():
    class T:
        def __init__(self, name, priority, weight):
            self.name, self.priority, self.weight = name, priority, weight

    rows = rs.try_order(rs.VOICE, [T("c", 2, 0), T("a", 1, 100), T("d", 3, 10), T("b", 1, 50)])
    assert [(r["trunk"].name, r["order"]) for r in rows] == [("a", 1), ("b", 1), ("c", 2), ("d", 3)]
    assert [filters.percent(r["share"]) for r in rows] == ["66.7%", "33.3%", "100%", "100%"]
    # weight 0 gets a share only when every weight at that priority is 0
    rows = rs.try_order(rs.VOICE, [T("x", 1, 100), T("y", 1, 0)])
    assert [filters.percent(r["share"]) for r in rows] == ["100%", "0%"]
    rows = rs.try_order(rs.VOICE, [T("x", 1, 0), T("y", 1, 0)])
    assert [filters.percent(r["share"]) for r in rows] == ["50%", "50%"]


def test_sms_try_order_is_lower_priority_first_and_skips_blocked():
    class S:
        def __init__(self, name, priority, blocked=False):
            self.name, self.priority, self.blocked = name, priority, blocked

    rows = rs.try_order(rs.SMS, [S("late", 30), S("early", 10), S("off", 5, blocked=True), S("tie", 30)])
    assert [(r["trunk"].name, r["order"]) for r in rows] == [("early", 1), ("late", 2), ("tie", 2), ("off", None)]
    assert [filters.percent(r["share"]) for r in rows] == ["100%", "50%", "50%", "—"]


def test_member_priority_and_weight_are_written_from_the_group_page(ctx):
    a, b = f.make_voice_trunk(name="A"), f.make_voice_trunk(name="B")
    group = f.make_voice_group(members=[a, b], name="G")
    rs.set_trunk_order(ACTOR, group.id, {a.id: (2, 100), b.id: (1, 30)})
    db.session.expire_all()
    assert (db.session.get(VoiceRoute, b.id).priority, db.session.get(VoiceRoute, b.id).weight) == (1, 30)
    row = audits("trunk.updated", b.id)[-1]
    assert (row.before, row.after) == ({"weight": 100}, {"weight": 30})
    assert audits("trunk_group.updated", group.id)[-1].after == {
        "members": ["B · priority 1 · weight 30", "A · priority 2 · weight 100"]}
    before = count(AuditEvent)
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.set_trunk_order(ACTOR, group.id, {a.id: (70000, 100), b.id: (1, "abc")})
    assert problems(exc) == {f"priority-{a.id}": "Priority must be 0–65,535.", f"weight-{b.id}": "Weight must be 0–65,535."}
    assert count(AuditEvent) == before


# ---- §4 SMS trunks ----------------------------------------------------------------------------------------

EMAIL = {"name": "Support inbox", "send_to": "Support <support@example.com>", "subject": "SMS from {SMS_SRC_ADDR}",
         "message": "{SMS_TEXT} at {SMS_TIME}"}
HTTP = {"name": "CRM", "url": "https://crm.example.com/sms?to={SMS_DST_ADDR}", "method": "POST", "body_type": "json",
        "body": '{"text": "{SMS_TEXT_BASE64_ENCODED}", "id": "{SMS_UUID}"}'}
SMSC = {"name": "Own SMSC", "host": "smsc.example.com", "system_id": "northwind", "password": "pw123456",
        "server_location": "London"}


def test_each_sms_kind_is_created_with_its_settings(ctx):
    email, _ = rs.create_sms_trunk(ACTOR, "sms_to_email", EMAIL)
    assert email.settings == {"send_to": "Support <support@example.com>", "subject": "SMS from {SMS_SRC_ADDR}",
                              "message": "{SMS_TEXT} at {SMS_TIME}"}
    http, _ = rs.create_sms_trunk(ACTOR, "http_in", {**HTTP, "headers": [{"key": "Authorization", "value": "Bearer x"}]})
    assert http.settings["method"] == "POST" and http.settings["verify_tls"] is True
    assert http.settings["follow_redirects"] is False and http.settings["headers"] == [{"key": "Authorization", "value": "Bearer x"}]
    smsc, _ = rs.create_sms_trunk(ACTOR, "smpp_smsc", SMSC)
    assert (smsc.settings["tx_port"], smsc.settings["rx_port"], smsc.settings["connection_timeout"]) == (2775, 2776, 30)
    assert smsc.settings["transceiver_mode"] is False and smsc.settings["use_tls"] is False
    assert (email.priority, email.blocked) == (100, False)


@pytest.mark.parametrize("kind,values,field,message", [
    ("sms_to_email", {**EMAIL, "subject": "From {SMS_FROM}"}, "subject", "Unknown placeholder {SMS_FROM}."),
    ("sms_to_email", {**EMAIL, "message": "{SMS_TEXT} {sms_text}"}, "message", "Unknown placeholder {sms_text}."),
    ("sms_to_email", {**EMAIL, "send_to": "a@example.com, b@example.com"}, "send_to",
     "Enter one email address, optionally as Name <address>."),
    ("sms_to_email", {**EMAIL, "send_to": "not an address"}, "send_to",
     "Enter one email address, optionally as Name <address>."),
    ("sms_to_email", {**EMAIL, "message": "x" * 2001}, "message", "Message must be at most 2,000 characters."),
    ("http_in", {**HTTP, "method": "GET"}, "body_type", "GET requests carry no body."),
    ("http_in", {**HTTP, "method": "GET", "body_type": None}, "body", "GET requests carry no body."),
    ("http_in", {**HTTP, "body_type": None}, "body_type", "Choose a body type for POST and PUT requests."),
    ("http_in", {**HTTP, "url": "ftp://example.com/sms"}, "url", "Enter an http or https URL of at most 2,000 characters."),
    ("http_in", {**HTTP, "url": "https://example.com/" + "x" * 2000}, "url",
     "Enter an http or https URL of at most 2,000 characters."),
    ("http_in", {**HTTP, "body": "{SMS_TEXT} {DID}"}, "body", "Unknown placeholder {DID}."),
    ("http_in", {**HTTP, "query_parameters": [{"key": f"k{i}", "value": "v"} for i in range(21)]},
     "query_parameters", "Enter at most 20 query parameters."),
    ("http_in", {**HTTP, "headers": [{"key": f"h{i}", "value": "v"} for i in range(21)]},
     "headers", "Enter at most 20 headers."),
    ("smpp_esme", {"name": "Bind", "server_location": "Frankfurt", "allowed_ips": ["10.0.0.1", "999.1.1.1"]},
     "allowed_ips", "999.1.1.1 is not an IP address or CIDR range."),
    ("smpp_esme", {"name": "Bind", "server_location": "Frankfurt", "allowed_ips": [f"10.0.0.{i}" for i in range(11)]},
     "allowed_ips", "Enter at most 10 IP addresses or CIDR ranges."),
    ("smpp_esme", {"name": "Bind", "server_location": "x" * 21}, "server_location",
     "Server location must be at most 20 characters."),
    ("smpp_smsc", {**SMSC, "system_id": "x" * 16}, "system_id", "System ID must be at most 15 characters."),
    ("smpp_smsc", {**SMSC, "password": "123456789"}, "password", "Password must be at most 8 characters."),
    ("smpp_smsc", {**SMSC, "password": None}, "password", "Enter a password."),
    ("smpp_smsc", {**SMSC, "connection_timeout": 121}, "connection_timeout", "Connection timeout must be 1–120 seconds."),
    ("smpp_smsc", {**SMSC, "tx_port": 0}, "tx_port", "TX port must be 1–65,535."),
    ("smpp_smsc", {**SMSC, "priority": 32768}, "priority", "Priority must be 0–32,767."),
])
def test_sms_trunk_field_rules(ctx, kind, values, field, message):
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_sms_trunk(ACTOR, kind, values)
    assert problems(exc)[field] == message
    assert count(SmsRoute) == 0 and count(AuditEvent) == 0


def test_a_get_request_without_body_is_fine(ctx):
    trunk, _ = rs.create_sms_trunk(ACTOR, "http_in", {"name": "OTP", "url": "https://otp.example.com/in?t={SMS_TEXT}",
                                                       "method": "GET", "query_parameters": [{"key": "from", "value": "{SMS_SRC_ADDR}"}]})
    assert trunk.settings["body_type"] is None and trunk.settings["body"] is None


def test_esme_credentials_are_generated_kept_and_regenerated(ctx):
    trunk, _ = rs.create_sms_trunk(ACTOR, "smpp_esme", {"name": "Bind", "server_location": "Frankfurt",
                                                         "system_id": "mine", "password": "mine"})
    first = dict(trunk.settings)
    assert len(first["system_id"]) == 16 and len(first["password"]) == 8
    assert first["system_id"].isalnum() and first["password"].isalnum() and first["system_id"] != "mine"
    trunk, _ = rs.update_sms_trunk(ACTOR, trunk.id, {"name": "Bind", "server_location": "Ashburn"})
    assert (trunk.settings["system_id"], trunk.settings["password"]) == (first["system_id"], first["password"])
    trunk = rs.regenerate_sms_credentials(ACTOR, trunk.id)
    assert trunk.settings["system_id"] != first["system_id"] and trunk.settings["password"] != first["password"]
    row = audits("sms_trunk.credentials_regenerated")[-1]
    assert row.after["system_id"] == trunk.settings["system_id"] and row.after["password"] == "changed"
    assert first["password"] not in json.dumps([[a.before, a.after] for a in audits()])


def test_smsc_password_is_write_only(ctx):
    trunk, _ = rs.create_sms_trunk(ACTOR, "smpp_smsc", SMSC)
    trunk, _ = rs.update_sms_trunk(ACTOR, trunk.id, {**SMSC, "password": None, "use_tls": True})
    assert trunk.settings["password"] == "pw123456" and trunk.settings["use_tls"] is True
    assert "pw123456" not in json.dumps([[a.before, a.after] for a in audits()])


def test_an_sms_group_holds_at_most_ten_trunks(ctx):
    trunks = [f.make_sms_trunk() for _ in range(11)]
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.create_sms_group(ACTOR, {"name": "Big"}, [t.id for t in trunks])
    assert problems(exc) == {"members": "An SMS trunk group holds at most 10 trunks."}
    group, _ = rs.create_sms_group(ACTOR, {"name": "Big"}, [t.id for t in trunks[:10]])
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.update_sms_trunk(ACTOR, trunks[10].id, {"name": trunks[10].name, "url": "https://x.example.com",
                                                    "group_id": group.id})
    assert problems(exc) == {"group_id": "An SMS trunk group holds at most 10 trunks."}


def test_sms_trunks_move_between_groups_with_a_notice(ctx):
    trunk = f.make_sms_trunk(name="Webhook")
    f.make_sms_group(members=[trunk], name="Primary")
    group, notices = rs.create_sms_group(ACTOR, {"name": "Failover"}, [trunk.id])
    assert notices == ["Moved Webhook from Primary."]
    db.session.expire_all()
    assert db.session.get(SmsRoute, trunk.id).group_id == group.id


def test_blocking_an_sms_trunk_recomputes_its_numbers_and_its_groups(ctx):
    trunk = f.make_sms_trunk(name="Hook")
    direct = f.make_number(features=("sms_in",), sms_route_id=trunk.id)
    group = f.make_sms_group(members=[trunk])
    via_group = f.make_number(features=("sms_in",), sms_route_id=group.id)
    assert status_of(direct.id) == status_of(via_group.id) == "active"
    values = {"name": "Hook", "url": "https://example.com/sms", "group_id": group.id}
    rs.update_sms_trunk(ACTOR, trunk.id, {**values, "blocked": True})
    assert status_of(direct.id) == status_of(via_group.id) == "not_configured"
    rs.update_sms_trunk(ACTOR, trunk.id, {**values, "blocked": False})
    assert status_of(direct.id) == status_of(via_group.id) == "active"


def test_an_sms_group_whose_last_member_leaves_is_not_configured(ctx):
    trunk = f.make_sms_trunk()
    group = f.make_sms_group(members=[trunk])
    number = f.make_number(features=("sms_in",), sms_route_id=group.id)
    rs.update_sms_group(ACTOR, group.id, {"name": group.name}, [])
    assert status_of(number.id) == "not_configured"


def test_sms_member_priorities_are_written_from_the_group_page(ctx):
    a, b = f.make_sms_trunk(name="A"), f.make_sms_trunk(name="B")
    group = f.make_sms_group(members=[a, b], name="G")
    rs.set_sms_order(ACTOR, group.id, {a.id: 20, b.id: 10})
    db.session.expire_all()
    assert [r["trunk"].name for r in rs.try_order(rs.SMS, routes_queries.members_of(rs.SMS, group.id))] == ["B", "A"]
    with pytest.raises(rs.RouteInvalid) as exc:
        rs.set_sms_order(ACTOR, group.id, {a.id: 40000})
    assert problems(exc) == {f"priority-{a.id}": "Priority must be 0–32,767."}


# ---- §7 delete protection --------------------------------------------------------------------------------

def _refused(call, *args):
    before = (count(VoiceRoute), count(SmsRoute), count(AuditEvent))
    with pytest.raises(rs.DeleteRefused) as exc:
        call(ACTOR, *args)
    db.session.expire_all()
    assert (count(VoiceRoute), count(SmsRoute), count(AuditEvent)) == before
    return exc.value


def test_a_trunk_that_routes_numbers_cannot_be_deleted(ctx):
    trunk = f.make_voice_trunk(name="Main")
    f.make_number(voice_route_id=trunk.id), f.make_number(voice_route_id=trunk.id)
    err = _refused(rs.delete_voice_trunk, trunk.id)
    assert err.message == "Trunk Main routes 2 numbers. Move them first."
    assert err.numbers_filter == {"voice_route": trunk.id}


def test_the_last_trunk_of_a_group_in_use_cannot_be_deleted(ctx):
    trunk = f.make_voice_trunk(name="Only")
    group = f.make_voice_group(members=[trunk], name="Hunt")
    for _ in range(3):
        f.make_number(voice_route_id=group.id)
    err = _refused(rs.delete_voice_trunk, trunk.id)
    assert err.message == "Trunk Only is the last trunk in group Hunt, which routes 3 numbers."
    assert err.numbers_filter == {"voice_route": group.id}


def test_a_trunk_with_a_sibling_is_deleted_with_an_audit_row(ctx):
    a, b = f.make_voice_trunk(name="A"), f.make_voice_trunk(name="B")
    group = f.make_voice_group(members=[a, b], name="G")
    number = f.make_number(voice_route_id=group.id)
    assert rs.delete_voice_trunk(ACTOR, a.id) == "A"
    assert db.session.get(VoiceRoute, a.id) is None
    row = audits("trunk.deleted")[-1]
    assert (row.object_type, row.object_id, row.object_label) == ("trunk", a.id, "A")
    assert row.before["host"] == a.host
    assert audits("trunk_group.updated", group.id)[-1].after == {"members": ["B · priority 1 · weight 100"]}
    assert status_of(number.id) == "active"


def test_a_trunk_group_that_routes_numbers_cannot_be_deleted(ctx):
    group = f.make_voice_group(members=[f.make_voice_trunk()], name="Hunt")
    f.make_number(voice_route_id=group.id)
    err = _refused(rs.delete_trunk_group, group.id)
    assert err.message == "Trunk group Hunt routes 1 numbers. Move them first."
    assert err.numbers_filter == {"voice_route": group.id}


def test_deleting_a_group_detaches_its_members(ctx):
    a, b = f.make_voice_trunk(name="A"), f.make_voice_trunk(name="B")
    group = f.make_voice_group(members=[a, b], name="G")
    rs.delete_trunk_group(ACTOR, group.id)
    db.session.expire_all()
    assert db.session.get(VoiceRoute, group.id) is None
    assert db.session.get(VoiceRoute, a.id).group_id is None and db.session.get(VoiceRoute, b.id).group_id is None
    assert [r.action for r in audits()] == ["trunk_group.deleted", "trunk.updated", "trunk.updated"]


def test_a_trunk_used_by_a_profile_cannot_be_deleted(ctx):
    trunk = f.make_voice_trunk(name="Main")
    db.session.add(ConfigurationProfile(name="US default", voice_route_id=trunk.id))
    db.session.commit()
    err = _refused(rs.delete_voice_trunk, trunk.id)
    assert err.message == "Trunk Main is used by profiles: US default."


def test_an_sms_trunk_that_routes_numbers_cannot_be_deleted(ctx):
    trunk = f.make_sms_trunk(name="Hook")
    f.make_number(features=("sms_in",), sms_route_id=trunk.id)
    err = _refused(rs.delete_sms_trunk, trunk.id)
    assert err.message == "SMS trunk Hook routes 1 numbers. Move them first."
    assert err.numbers_filter == {"sms_route": trunk.id}


def test_the_last_unblocked_sms_trunk_of_a_group_in_use_cannot_be_deleted(ctx):
    open_one, blocked = f.make_sms_trunk(name="Open"), f.make_sms_trunk(name="Shut", blocked=True)
    group = f.make_sms_group(members=[open_one, blocked], name="Primary")
    f.make_number(features=("sms_in",), sms_route_id=group.id)
    f.make_number(features=("sms_in",), sms_route_id=group.id)
    err = _refused(rs.delete_sms_trunk, open_one.id)
    assert err.message == "SMS trunk Open is the last unblocked trunk in group Primary, which routes 2 numbers."
    assert err.numbers_filter == {"sms_route": group.id}
    # a blocked member carries nothing, so it may go
    assert rs.delete_sms_trunk(ACTOR, blocked.id) == "Shut"
    err = _refused(rs.delete_sms_trunk, open_one.id)
    assert err.message == "SMS trunk Open is the last trunk in group Primary, which routes 2 numbers."


def test_an_sms_group_that_routes_numbers_cannot_be_deleted_and_an_unused_one_detaches(ctx):
    trunk = f.make_sms_trunk(name="Hook")
    group = f.make_sms_group(members=[trunk], name="Primary")
    number = f.make_number(features=("sms_in",), sms_route_id=group.id)
    err = _refused(rs.delete_sms_group, group.id)
    assert err.message == "SMS trunk group Primary routes 1 numbers. Move them first."
    assert err.numbers_filter == {"sms_route": group.id}
    db.session.delete(db.session.get(Number, number.id))
    db.session.commit()
    assert rs.delete_sms_group(ACTOR, group.id) == "Primary"
    db.session.expire_all()
    assert db.session.get(SmsRoute, trunk.id).group_id is None
    assert audits("sms_trunk_group.deleted")[-1].object_label == "Primary"


def test_every_change_writes_an_audit_row_with_its_object_type(ctx):
    trunk, _ = rs.create_voice_trunk(ACTOR, "sip", SIP)
    group, _ = rs.create_trunk_group(ACTOR, {"name": "G"}, [trunk.id])
    sms, _ = rs.create_sms_trunk(ACTOR, "sms_to_email", EMAIL)
    sms_group, _ = rs.create_sms_group(ACTOR, {"name": "SG"}, [sms.id])
    rs.update_trunk_group(ACTOR, group.id, {"name": "G2"}, [trunk.id])
    rs.update_sms_group(ACTOR, sms_group.id, {"name": "SG", "description": "d"}, [sms.id])
    rs.delete_trunk_group(ACTOR, group.id)
    rs.delete_voice_trunk(ACTOR, trunk.id)
    rs.delete_sms_group(ACTOR, sms_group.id)
    rs.delete_sms_trunk(ACTOR, sms.id)
    seen = {(a.action, a.object_type) for a in audits()}
    assert {("trunk.created", "trunk"), ("trunk_group.created", "trunk_group"), ("sms_trunk.created", "sms_trunk"),
            ("sms_trunk_group.created", "sms_trunk_group"), ("trunk_group.updated", "trunk_group"),
            ("sms_trunk_group.updated", "sms_trunk_group"), ("trunk_group.deleted", "trunk_group"),
            ("trunk.deleted", "trunk"), ("sms_trunk_group.deleted", "sms_trunk_group"),
            ("sms_trunk.deleted", "sms_trunk")} <= seen
    renamed = audits("trunk_group.updated", group.id)[-1]
    assert (renamed.before, renamed.after) == ({"name": "G"}, {"name": "G2"})
    assert all(a.actor_label == "cli" for a in audits())


def test_one_use_case_per_action_serves_both_spaces():
    """The per-space names (issue 9) are the space-taking use cases, bound to their space."""
    for name, use_case, space in [("create_voice_trunk", rs.create_trunk, rs.VOICE),
                                  ("set_trunk_order", rs.set_order, rs.VOICE),
                                  ("delete_sms_group", rs.delete_group, rs.SMS),
                                  ("update_sms_trunk", rs.update_trunk, rs.SMS)]:
        bound = getattr(rs, name)
        assert (bound.func, bound.args) == (use_case, (space,))


def test_clean_order_takes_a_priority_or_a_priority_and_weight():
    assert routes.clean_order(routes.SMS, {"3": 5}) == {3: (5, None)}
    assert routes.clean_order(routes.SMS, {3: (5, "ignored")}) == {3: (5, None)}  # SMS members have no weight
    assert routes.clean_order(routes.VOICE, {3: (1, 70)}) == {3: (1, 70)}
    with pytest.raises(routes.RouteInvalid) as exc:
        routes.clean_order(routes.VOICE, {3: (70000, 70000)})
    assert problems(exc) == {"priority-3": routes.VOICE_PRIORITY, "weight-3": routes.WEIGHT}
    with pytest.raises(routes.RouteInvalid) as exc:
        routes.clean_order(routes.SMS, {3: 40000})
    assert problems(exc) == {"priority-3": routes.SMS_PRIORITY}
    with pytest.raises(DomainError, match="members of this group changed"):
        routes.clean_order(routes.VOICE, {"x": (1, 1)})


def test_clean_trunk_puts_an_sms_trunks_kind_fields_under_settings():
    voice = routes.clean_trunk(routes.VOICE, "sip", SIP)
    assert voice["host"] == "pbx.example.com" and "settings" not in voice
    sms = routes.clean_trunk(routes.SMS, "sms_to_email", EMAIL)
    assert sms["settings"]["send_to"] == EMAIL["send_to"] and "send_to" not in sms and sms["priority"] == 100
