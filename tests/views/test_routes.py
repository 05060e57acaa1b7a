"""Trunk, trunk group, SMS trunk and SMS group pages over HTTP: roles, CSRF, 422 in place, PRG,
htmx fragments, delete refusals and the list counts (configuration.md §1–§4, §7; access.md §2)."""
import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from did_app.db import db
from did_app.models import AuditEvent, SmsRoute, VoiceRoute
from tests import factories as f
from tests.conftest import csrf_from, login

TRUNKS = "/configuration/trunks"
SMS = "/configuration/sms-trunks"
SIP_FORM = {"name": "Main PBX", "host": "pbx.example.com", "port": "5060", "username": "{DID}", "transport": "udp",
            "media_encryption": "disabled", "cli_format": "e164", "priority": "1", "weight": "100", "group_id": "",
            "codecs": ["PCMU", "PCMA"], "codecs_order": ["PCMU", "PCMA", "G729"]}


@pytest.fixture
def routes(app):
    """A voice trunk in a group with routed numbers, and an SMS trunk of each kind in a group."""
    with app.app_context():
        trunk = f.make_voice_trunk(name="Berlin", auth_enabled=True, auth_user="did1", auth_password="hunter2-secret")
        spare = f.make_voice_trunk(name="Spare")
        pstn = f.make_voice_trunk(name="Reception", trunk_kind="pstn", host=None, port=None, username=None,
                                  transport=None, codecs=None, destination="+442071838750")
        group = f.make_voice_group(members=[trunk], name="EU")
        for _ in range(2):
            f.make_number(voice_route_id=group.id)
        f.make_number(voice_route_id=spare.id)
        hook = f.make_sms_trunk(name="Hook")
        esme = f.make_sms_trunk(name="Bind", trunk_kind="smpp_esme", settings={
            "system_type": "", "allowed_ips": [], "server_location": "Frankfurt",
            "system_id": "ABCDEFGHIJKLMNOP", "password": "esmepass"})
        smsc = f.make_sms_trunk(name="SMSC", trunk_kind="smpp_smsc", settings={
            "host": "smsc.example.com", "tx_port": 2775, "rx_port": 2776, "transceiver_mode": False,
            "connection_timeout": 30, "use_tls": False, "system_id": "me", "system_type": "",
            "password": "smscpass", "server_location": "London"})
        email = f.make_sms_trunk(name="Inbox", trunk_kind="sms_to_email", settings={
            "send_to": "a@example.com", "subject": "SMS", "message": "{SMS_TEXT}"})
        sms_group = f.make_sms_group(members=[hook], name="Primary")
        f.make_number(features=("sms_in",), sms_route_id=sms_group.id)
        return dict(trunk=trunk.id, spare=spare.id, pstn=pstn.id, group=group.id, hook=hook.id, esme=esme.id,
                    smsc=smsc.id, email=email.id, sms_group=sms_group.id)


def counts(app) -> tuple:
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (VoiceRoute, SmsRoute, AuditEvent))


def _version(app, model, route_id) -> int:
    with app.app_context():
        return db.session.get(model, route_id).version


def token(client, path=TRUNKS) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


# ---- reading ------------------------------------------------------------------------------------------

READ_PAGES = ["{T}", "{T}/{trunk}", "{T}/{pstn}", "{T}/groups/{group}", "{S}", "{S}/{hook}", "{S}/{esme}",
              "{S}/{smsc}", "{S}/{email}", "{S}/groups/{sms_group}"]


@pytest.mark.parametrize("path", READ_PAGES)
def test_a_viewer_reads_every_page_as_plain_text(app, client, routes, path):
    login(client, "viewer")
    response = client.get(path.format(T=TRUNKS, S=SMS, **routes))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<form method="post" action="/configuration' not in html
    assert "hx-post" not in html and "New SIP trunk" not in html and "Delete" not in html
    assert "hunter2-secret" not in html and "smscpass" not in html and "esmepass" not in html


@pytest.mark.parametrize("path", ["{T}/new/sip", "{T}/new/pstn", "{T}/groups/new", "{S}/new/http_in", "{S}/groups/new"])
def test_create_pages_are_refused_to_viewers(app, client, routes, path):
    login(client, "viewer")
    assert client.get(path.format(T=TRUNKS, S=SMS)).status_code == 403


@pytest.mark.parametrize("path", ["{T}/new/sip", "{T}/new/pstn", "{T}/groups/new", "{S}/new/sms_to_email",
                                  "{S}/new/http_in", "{S}/new/smpp_esme", "{S}/new/smpp_smsc", "{S}/groups/new"])
def test_operators_get_every_create_page(app, client, routes, path):
    login(client, "operator")
    response = client.get(path.format(T=TRUNKS, S=SMS))
    assert response.status_code == 200 and 'name="csrf_token"' in response.get_data(as_text=True)


def test_unknown_kinds_and_ids_are_404(app, client, routes):
    login(client, "operator")
    assert client.get(f"{TRUNKS}/new/h323").status_code == 404
    assert client.get(f"{TRUNKS}/{routes['group']}").status_code == 404  # a group is not a trunk
    assert client.get(f"{SMS}/groups/{routes['hook']}").status_code == 404


def test_the_trunk_list_shows_counts_that_link_to_the_numbers(app, client, routes):
    login(client, "viewer")
    html = client.get(TRUNKS).get_data(as_text=True)
    assert f'href="/numbers?voice_route={routes["spare"]}"' in html
    assert re.search(rf'href="/numbers\?voice_route={routes["group"]}"[^>]*>2</a> via group', html)
    assert "sip:{DID}@" in html and "+442071838750" in html
    sms = client.get(SMS).get_data(as_text=True)
    assert re.search(rf'href="/numbers\?sms_route={routes["sms_group"]}"[^>]*>1</a>', sms)


def test_the_trunk_list_filters_by_name_kind_and_group(app, client, routes):
    login(client, "viewer")
    names = lambda html: re.findall(r'href="/configuration/trunks/\d+">([^<]+)</a>', html)  # noqa: E731
    assert names(client.get(f"{TRUNKS}?name=ERL").get_data(as_text=True)) == ["Berlin"]
    assert names(client.get(f"{TRUNKS}?kind=pstn").get_data(as_text=True)) == ["Reception"]
    assert names(client.get(f"{TRUNKS}?group={routes['group']}").get_data(as_text=True)) == ["Berlin"]
    assert names(client.get(f"{TRUNKS}?group=none").get_data(as_text=True)) == ["Reception", "Spare"]
    fragment = client.get(f"{TRUNKS}?kind=sip", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.strip().startswith('<div id="trunk-table">')
    assert "HX-Request" in fragment.headers["Vary"]


def test_list_pages_take_the_same_number_of_queries_however_many_trunks(app, client, routes):
    login(client, "viewer")

    def queries(path):
        seen = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    few = (queries(TRUNKS), queries(SMS))
    with app.app_context():
        group = f.make_voice_group(name="More")
        sms_group = f.make_sms_group(name="More SMS")
        for i in range(8):
            trunk = f.make_voice_trunk(group_id=group.id if i % 2 else None)
            f.make_number(voice_route_id=trunk.id)
            f.make_sms_trunk(group_id=sms_group.id if i % 2 else None, blocked=bool(i % 3))
    assert (queries(TRUNKS), queries(SMS)) == few


def test_the_group_page_lists_members_in_try_order_with_shares(app, client, routes):
    with app.app_context():
        group = f.make_voice_group(name="Hunt")
        for name, priority, weight in (("C", 2, 0), ("A", 1, 300), ("B", 1, 100)):
            f.make_voice_trunk(name=name, priority=priority, weight=weight, group_id=group.id)
        gid = group.id
    login(client, "viewer")
    html = client.get(f"{TRUNKS}/groups/{gid}").get_data(as_text=True)
    assert "Try order" in html
    rows = re.findall(r'<td class="num">(\d)</td>\s*<td><a href="/configuration/trunks/\d+">(\w)</a>.*?<td class="num">([\d.]+%)</td>',
                      html, re.S)
    assert rows == [("1", "A", "75%"), ("1", "B", "25%"), ("2", "C", "100%")]


def test_the_edit_page_shows_the_password_only_as_set_and_lists_history(app, client, routes):
    login(client, "operator")
    html = client.get(f"{TRUNKS}/{routes['trunk']}").get_data(as_text=True)
    assert "•••• set" in html and "Replace" in html and "hunter2-secret" not in html
    data = {**SIP_FORM, "csrf_token": csrf_from(html), "name": "Berlin", "group_id": str(routes["group"]),
            "auth_enabled": "y", "auth_user": "did1", "auth_password": "", "description": "first"}
    client.post(f"{TRUNKS}/{routes['trunk']}", data={**data, "version": _version(app, VoiceRoute, routes["trunk"])})
    data["description"] = "second"
    response = client.post(f"{TRUNKS}/{routes['trunk']}",
                           data={**data, "version": _version(app, VoiceRoute, routes["trunk"])})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(VoiceRoute, routes["trunk"]).auth_password == "hunter2-secret"
    html = client.get(f"{TRUNKS}/{routes['trunk']}").get_data(as_text=True)
    history = html[html.index('id="history"'):]
    changes = re.findall(r'<th scope="row">description</th>\s*<td>(.*?)</td><td aria-hidden="true">→</td>\s*<td>(.*?)</td>',
                         history)
    assert changes == [("first", "second"), ("—", "first")]  # newest first
    assert "trunk.updated" in history


# ---- writing -------------------------------------------------------------------------------------------

def test_an_operator_creates_a_sip_trunk(app, client, routes):
    login(client, "operator")
    data = {**SIP_FORM, "csrf_token": token(client, f"{TRUNKS}/new/sip"), "group_id": str(routes["group"])}
    response = client.post(f"{TRUNKS}/new/sip", data=data)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Trunk Main PBX created." in page
    with app.app_context():
        trunk = db.session.scalar(sa.select(VoiceRoute).where(VoiceRoute.name == "Main PBX"))
        assert (trunk.codecs, trunk.group_id, trunk.port) == (["PCMU", "PCMA"], routes["group"], 5060)
        assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.object_id == trunk.id)) == "trunk.created"


def test_errors_come_back_next_to_their_fields_with_422_and_nothing_written(app, client, routes):
    login(client, "operator")
    before = counts(app)
    data = {**SIP_FORM, "csrf_token": token(client, f"{TRUNKS}/new/sip"), "name": "berlin ", "host": "bad host!",
            "capacity_limit": "lots", "codecs": []}
    response = client.post(f"{TRUNKS}/new/sip", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="capacity_limit-error" class="field-error">Enter a whole number from 1 to 32,767, or leave blank for no limit.<', html)
    assert counts(app) == before
    data["capacity_limit"] = ""
    html = client.post(f"{TRUNKS}/new/sip", data=data).get_data(as_text=True)
    assert 'id="name-error" class="field-error">Name is already used by a trunk or trunk group.<' in html
    assert 'id="host-error" class="field-error">Enter a host name or IP address.<' in html
    assert 'id="codecs-error" class="field-error">Choose at least one codec.<' in html
    assert 'id="host" name="host"' in html and 'aria-invalid="true"' in html
    assert counts(app) == before


def test_a_pstn_trunk_needs_an_international_number(app, client, routes):
    login(client, "operator")
    data = {"csrf_token": token(client, f"{TRUNKS}/new/pstn"), "name": "Desk", "destination": "0207 183 8750",
            "cli_format": "e164", "priority": "1", "weight": "100", "per_minute_rate": "abc"}
    html = client.post(f"{TRUNKS}/new/pstn", data=data).get_data(as_text=True)
    assert "Enter a valid phone number in international format." in html
    assert "Enter a rate of 0 or more, with up to 6 decimal places." in html
    data.update(destination="+44 20 7183 8750", per_minute_rate="0.015")
    assert client.post(f"{TRUNKS}/new/pstn", data=data).status_code == 303


def test_codec_arrows_reorder_the_list_without_saving(app, client, routes, hx):
    login(client, "operator")
    before = counts(app)
    data = {**SIP_FORM, "csrf_token": token(client, f"{TRUNKS}/new/sip"), "move": "down:PCMU"}
    response = hx.post(f"{TRUNKS}/new/sip", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and html.strip().startswith('<fieldset id="codecs"')
    order = re.findall(r'name="codecs_order" value="([^"]+)"', html)
    assert order[:3] == ["PCMA", "PCMU", "G729"]
    assert 'value="down:PCMU"' in html and "autofocus" in html
    assert counts(app) == before
    full = client.post(f"{TRUNKS}/new/sip", data=data).get_data(as_text=True)  # without htmx: the whole form
    assert "<html" in full and re.findall(r'name="codecs_order" value="([^"]+)"', full)[:2] == ["PCMA", "PCMU"]


def test_the_sdes_hint_follows_transport_and_encryption(app, client, routes):
    login(client, "viewer")
    hint = "SDES keys travel in clear SIP; prefer TLS."
    on = client.get(f"{TRUNKS}/sdes-hint?transport=udp&media_encryption=srtp_sdes", headers={"HX-Request": "true"})
    off = client.get(f"{TRUNKS}/sdes-hint?transport=tls&media_encryption=srtp_sdes", headers={"HX-Request": "true"})
    assert hint in on.get_data(as_text=True) and hint not in off.get_data(as_text=True)
    assert 'id="sdes-hint"' in off.get_data(as_text=True)


def test_a_group_is_created_with_members_and_moves_them_with_a_notice(app, client, routes):
    login(client, "operator")
    data = {"csrf_token": token(client, f"{TRUNKS}/groups/new"), "name": "DACH", "members": [str(routes["trunk"])]}
    response = client.post(f"{TRUNKS}/groups/new", data=data)
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Trunk group DACH created." in html and "Moved Berlin from EU." in html
    with app.app_context():
        numbers = db.session.scalars(sa.select(sa.text("status")).select_from(sa.text("number"))
                                     .where(sa.text(f"voice_route_id = {routes['group']}"))).all()
        assert numbers == ["not_configured", "not_configured"]


def test_eleven_members_are_refused_in_place(app, client, routes):
    with app.app_context():
        ids = [str(f.make_voice_trunk().id) for _ in range(11)]
    login(client, "operator")
    before = counts(app)
    response = client.post(f"{TRUNKS}/groups/new", data={"csrf_token": token(client), "name": "Big", "members": ids})
    assert response.status_code == 422
    assert 'id="members-error" class="field-error">A trunk group holds at most 10 trunks.<' in response.get_data(as_text=True)
    assert counts(app) == before


def test_member_priorities_and_weights_are_saved_from_the_group_page(app, client, routes):
    login(client, "operator")
    url = f"{TRUNKS}/groups/{routes['group']}/order"
    t = routes["trunk"]
    page = client.get(f"{TRUNKS}/groups/{routes['group']}").get_data(as_text=True)
    version = re.search(rf'name="version-{t}" value="(\d+)"', page).group(1)
    data = {"csrf_token": token(client), f"version-{t}": version}
    bad = client.post(url, data={**data, f"priority-{t}": "70000", f"weight-{t}": "5"})
    assert bad.status_code == 422
    assert f'id="priority-{t}-error" class="field-error">Priority must be 0–65,535.<' in bad.get_data(as_text=True)
    unversioned = client.post(url, data={"csrf_token": token(client), f"priority-{t}": "3", f"weight-{t}": "5"})
    assert unversioned.status_code == 422 and "out of date or incomplete" in unversioned.get_data(as_text=True)
    ok = client.post(url, data={**data, f"priority-{t}": "3", f"weight-{t}": "5"})
    assert ok.status_code == 303 and ok.headers["Location"].endswith(f"/groups/{routes['group']}#members")
    with app.app_context():
        trunk = db.session.get(VoiceRoute, t)
        assert (trunk.priority, trunk.weight) == (3, 5)
    stale = client.post(url, data={**data, f"priority-{t}": "4", f"weight-{t}": "5"})  # the version before "ok"
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(VoiceRoute, t).priority == 3


def test_a_stale_edit_gets_409_with_the_current_values(app, client, routes):
    login(client, "operator")
    html = client.get(f"{TRUNKS}/groups/{routes['group']}").get_data(as_text=True)
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', html).group(1)
    data = {"csrf_token": csrf_from(html), "version": version, "name": "EU", "members": [str(routes["trunk"])]}
    assert client.post(f"{TRUNKS}/groups/{routes['group']}", data={**data, "description": "one"}).status_code == 303
    stale = client.post(f"{TRUNKS}/groups/{routes['group']}", data={**data, "description": "two"})
    assert stale.status_code == 409
    assert "This record was changed by someone else. Your edit was not saved." in stale.get_data(as_text=True)


# ---- delete ---------------------------------------------------------------------------------------------

def test_a_refused_delete_shows_the_message_and_a_link_and_changes_nothing(app, client, routes, hx):
    login(client, "operator")
    before = counts(app)
    page = client.post(f"{TRUNKS}/{routes['spare']}/delete", data={"csrf_token": token(client)})
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "<html" in html
    assert "Trunk Spare routes 1 numbers. Move them first." in html
    assert f'href="/numbers?voice_route={routes["spare"]}"' in html
    fragment = hx.post(f"{TRUNKS}/{routes['trunk']}/delete")
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 422 and "<html" not in body and body.startswith('<div id="delete-result">')
    assert "Trunk Berlin is the last trunk in group EU, which routes 2 numbers." in body
    assert f'href="/numbers?voice_route={routes["group"]}"' in body
    group = hx.post(f"{TRUNKS}/groups/{routes['group']}/delete").get_data(as_text=True)
    assert "Trunk group EU routes 2 numbers. Move them first." in group
    sms = hx.post(f"{SMS}/{routes['hook']}/delete").get_data(as_text=True)
    assert "SMS trunk Hook is the last trunk in group Primary, which routes 1 numbers." in sms
    sms_group = hx.post(f"{SMS}/groups/{routes['sms_group']}/delete").get_data(as_text=True)
    assert "SMS trunk group Primary routes 1 numbers. Move them first." in sms_group
    assert f'href="/numbers?sms_route={routes["sms_group"]}"' in sms_group
    assert counts(app) == before


def test_delete_buttons_ask_for_confirmation(app, client, routes):
    login(client, "operator")
    html = client.get(f"{TRUNKS}/{routes['pstn']}").get_data(as_text=True)
    assert re.search(r'<button[^>]*hx-post="/configuration/trunks/\d+/delete"[^>]*hx-confirm="Delete trunk Reception\?', html)
    assert 'hx-target="#delete-result" hx-swap="outerHTML"' in html


def test_a_delete_redirects_to_the_list(app, client, routes, hx):
    login(client, "operator")
    htmx = hx.post(f"{TRUNKS}/{routes['pstn']}/delete")
    assert htmx.status_code == 200 and htmx.headers["HX-Redirect"] == TRUNKS
    classic = client.post(f"{SMS}/{routes['email']}/delete", data={"csrf_token": token(client)})
    assert classic.status_code == 303 and classic.headers["Location"] == SMS
    assert "SMS trunk Inbox deleted." in client.get(SMS).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(VoiceRoute, routes["pstn"]) is None and db.session.get(SmsRoute, routes["email"]) is None


# ---- SMS -------------------------------------------------------------------------------------------------

def test_sms_trunks_of_each_kind_are_created_from_their_forms(app, client, routes):
    login(client, "operator")
    forms = {
        "sms_to_email": {"send_to": "Desk <desk@example.com>", "subject": "SMS {SMS_SRC_ADDR}", "message": "{SMS_TEXT}"},
        "http_in": {"url": "https://example.com/in", "method": "POST", "body_type": "json", "body": '{"t": "{SMS_TEXT}"}',
                    "query_parameters": "a=1\nb={SMS_UUID}", "headers": "X-Key: abc", "verify_tls": "y"},
        "smpp_esme": {"server_location": "Frankfurt", "allowed_ips": "203.0.113.10\n198.51.100.0/28"},
        "smpp_smsc": {"host": "smsc.example.org", "tx_port": "2775", "rx_port": "2776", "connection_timeout": "30",
                      "system_id": "me", "password": "pw", "server_location": "London"},
    }
    for kind, values in forms.items():
        data = {"csrf_token": token(client, f"{SMS}/new/{kind}"), "name": f"New {kind}", "priority": "100",
                "group_id": "", **values}
        response = client.post(f"{SMS}/new/{kind}", data=data)
        assert response.status_code == 303, (kind, response.get_data(as_text=True))
    with app.app_context():
        http = db.session.scalar(sa.select(SmsRoute).where(SmsRoute.name == "New http_in"))
        assert http.settings["query_parameters"] == [{"key": "a", "value": "1"}, {"key": "b", "value": "{SMS_UUID}"}]
        assert http.settings["headers"] == [{"key": "X-Key", "value": "abc"}]
        esme = db.session.scalar(sa.select(SmsRoute).where(SmsRoute.name == "New smpp_esme"))
        assert esme.settings["allowed_ips"] == ["203.0.113.10", "198.51.100.0/28"] and len(esme.settings["system_id"]) == 16


def test_sms_rules_come_back_in_place(app, client, routes):
    login(client, "operator")
    before = counts(app)
    data = {"csrf_token": token(client, f"{SMS}/new/http_in"), "name": "Hook 2", "url": "https://example.com/in",
            "method": "GET", "body_type": "json", "body": "x", "priority": "100", "query_parameters": "no separator"}
    html = client.post(f"{SMS}/new/http_in", data=data).get_data(as_text=True)
    assert "Write each query parameter as name=value on its own line." in html
    data["query_parameters"] = ""
    response = client.post(f"{SMS}/new/http_in", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="body_type-error" class="field-error">GET requests carry no body.<' in html
    data = {"csrf_token": token(client, f"{SMS}/new/sms_to_email"), "name": "Mail", "send_to": "a@example.com",
            "subject": "Hi {SENDER}", "message": "{SMS_TEXT}", "priority": "100"}
    html = client.post(f"{SMS}/new/sms_to_email", data=data).get_data(as_text=True)
    assert 'id="subject-error" class="field-error">Unknown placeholder {SENDER}.<' in html
    assert counts(app) == before


def test_blocking_an_sms_trunk_from_its_form(app, client, routes):
    login(client, "operator")
    data = {"csrf_token": token(client, f"{SMS}/{routes['hook']}"), "name": "Hook", "url": "https://example.com/sms",
            "method": "GET", "priority": "100", "group_id": str(routes["sms_group"]), "blocked": "y", "verify_tls": "y",
            "version": _version(app, SmsRoute, routes["hook"])}
    assert client.post(f"{SMS}/{routes['hook']}", data=data).status_code == 303
    with app.app_context():
        assert db.session.get(SmsRoute, routes["hook"]).blocked is True
    html = client.get(f"{SMS}/groups/{routes['sms_group']}").get_data(as_text=True)
    assert "Skipped" in html and "Blocked" in html


def test_esme_credentials_are_shown_and_regenerated_after_confirmation(app, client, routes, hx):
    login(client, "operator")
    html = client.get(f"{SMS}/{routes['esme']}").get_data(as_text=True)
    assert "ABCDEFGHIJKLMNOP" in html and "esmepass" in html
    assert re.search(r'<button[^>]*hx-confirm="Regenerate the credentials of Bind\?[^"]*"[^>]*>Regenerate credentials', html)
    fragment = hx.post(f"{SMS}/{routes['esme']}/credentials")
    body = fragment.get_data(as_text=True).strip()
    assert fragment.status_code == 200 and body.startswith('<div id="esme-credentials">')
    assert "ABCDEFGHIJKLMNOP" not in body and 'hx-swap-oob="true"' in body and "New credentials generated." in body
    with app.app_context():
        settings = db.session.get(SmsRoute, routes["esme"]).settings
        assert len(settings["system_id"]) == 16 and settings["system_id"] in body
    assert hx.post(f"{SMS}/{routes['hook']}/credentials").status_code == 404


def test_the_smsc_password_is_write_only(app, client, routes):
    login(client, "operator")
    html = client.get(f"{SMS}/{routes['smsc']}").get_data(as_text=True)
    assert "•••• set" in html and "smscpass" not in html


# ---- roles and CSRF on every write route -------------------------------------------------------------------

WRITES = {
    "create trunk": ("{T}/new/sip", dict(SIP_FORM, name="Intruder")),
    "update trunk": ("{T}/{spare}", dict(SIP_FORM, name="Spare", description="changed", version="1")),
    "delete trunk": ("{T}/{pstn}/delete", {}),
    "create group": ("{T}/groups/new", {"name": "Intruders", "members": ["{spare}"]}),
    "update group": ("{T}/groups/{group}", {"name": "EU", "description": "changed", "members": [], "version": "1"}),
    "order members": ("{T}/groups/{group}/order", {"priority-{trunk}": "9", "weight-{trunk}": "9"}),
    "delete group": ("{T}/groups/{group}/delete", {}),
    "create SMS trunk": ("{S}/new/smpp_esme", {"name": "Intruder", "server_location": "X", "priority": "1"}),
    "update SMS trunk": ("{S}/{email}", {"name": "Inbox", "send_to": "b@example.com", "subject": "S", "message": "M",
                                         "priority": "1", "version": "1"}),
    "regenerate credentials": ("{S}/{esme}/credentials", {}),
    "delete SMS trunk": ("{S}/{email}/delete", {}),
    "create SMS group": ("{S}/groups/new", {"name": "Intruders", "members": ["{email}"]}),
    "update SMS group": ("{S}/groups/{sms_group}", {"name": "Primary", "description": "changed", "members": [],
                                                    "version": "1"}),
    "order SMS members": ("{S}/groups/{sms_group}/order", {"priority-{hook}": "9"}),
    "delete SMS group": ("{S}/groups/{sms_group}/delete", {}),
}


def _fill(value, ids):
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    names = {"T": TRUNKS, "S": SMS, **ids}
    return re.sub(r"\{(\w+)\}", lambda m: str(names.get(m.group(1), m.group(0))), value)


@pytest.mark.parametrize("who", ["anonymous", "viewer", "operator without CSRF token"])
@pytest.mark.parametrize("route", WRITES)
def test_every_write_route_refuses_and_writes_nothing(app, client, routes, who, route):
    path, data = WRITES[route]
    url = _fill(path, routes)
    data = {_fill(k, routes): _fill(v, routes) for k, v in data.items()}
    login(app.test_client(), "admin")  # a user exists, so this is not the first run
    if who == "anonymous":
        data["csrf_token"] = token(client, "/login")  # a valid token: the refusal must come from the login check
    elif who == "viewer":
        login(client, "viewer")
        data["csrf_token"] = token(client)
    elif who != "anonymous":
        login(client, "operator")
    before = counts(app)
    with app.app_context():
        snapshot = [(r.name, r.description, r.version) for m in (VoiceRoute, SmsRoute)
                    for r in db.session.scalars(sa.select(m).order_by(m.id))]
    response = client.post(url, data=data)
    expected = {"anonymous": 302, "viewer": 403, "operator without CSRF token": 400}[who]
    assert response.status_code == expected
    if who == "anonymous":
        assert "/login?next=" in response.headers["Location"]
    assert counts(app) == before
    with app.app_context():
        assert snapshot == [(r.name, r.description, r.version) for m in (VoiceRoute, SmsRoute)
                            for r in db.session.scalars(sa.select(m).order_by(m.id))]


@pytest.mark.parametrize("route", ["create group", "update SMS trunk", "delete trunk"])
def test_the_same_writes_succeed_for_an_operator_with_the_token(app, client, routes, route):
    """The refusal test above is only meaningful if these payloads would write."""
    path, data = WRITES[route]
    login(client, "operator")
    data = {_fill(k, routes): _fill(v, routes) for k, v in data.items()}
    data["csrf_token"] = token(client)
    before = counts(app)
    assert client.post(_fill(path, routes), data=data).status_code == 303
    assert counts(app) != before


def test_one_set_of_views_keeps_both_spaces_urls_and_endpoints(app):
    """configuration/routes.py registers the same views for voice and SMS (issue 9): every URL and
    endpoint name of the two former modules stays as it was."""
    shared = {"index": "", "new": "/new/<kind>", "create": "/new/<kind>", "show": "/<int:trunk_id>",
              "update": "/<int:trunk_id>", "remove": "/<int:trunk_id>/delete", "new_group": "/groups/new",
              "create_group": "/groups/new", "show_group": "/groups/<int:group_id>",
              "update_group": "/groups/<int:group_id>", "order_members": "/groups/<int:group_id>/order",
              "remove_group": "/groups/<int:group_id>/delete"}
    rules = {(r.endpoint, r.rule) for r in app.url_map.iter_rules() if r.endpoint.startswith("configuration.")}
    for name, prefix, own in [("trunks", TRUNKS, {"sdes_hint": "/sdes-hint"}),
                              ("sms", SMS, {"regenerate": "/<int:trunk_id>/credentials"})]:
        expected = {(f"configuration.{name}.{e}", prefix + path) for e, path in {**shared, **own}.items()}
        assert {r for r in rules if r[0].startswith(f"configuration.{name}.")} == expected
