"""Inline edits in the table (numbers.md §7.2): editor, 200 row + counts, 422, 409, roles, CSRF."""
import re

import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import AuditEvent, Number
from tests import factories as f
from tests.conftest import login


@pytest.fixture
def setup(app):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        number = f.make_number()
        other = f.make_number(voice_route_id=trunk.id)
        return {"trunk": trunk.id, "number": number.id, "other": other.id, "e164": number.number}


def _version(app, number_id):
    with app.app_context():
        return db.session.get(Number, number_id).version


def test_operators_see_edit_buttons_and_viewers_plain_text(app, client, setup):
    login(client, "operator")
    html = client.get("/numbers").get_data(as_text=True)
    assert 'aria-label="Edit voice route of +1 415-555-' in html
    viewer = app.test_client()
    login(viewer, "viewer")
    html = viewer.get("/numbers").get_data(as_text=True)
    assert "cell-edit" not in html and "Edit voice route of" not in html


def test_the_editor_is_a_fragment_with_one_control(app, client, hx, setup):
    login(client, "operator")
    response = hx.get(f"/numbers/{setup['number']}/cells/voice_route/edit")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith(f'<td id="number-{setup["number"]}-voice_route"')
    assert '<optgroup label="Trunks">' in body and "sip-main" in body and "Cancel" in body
    plain = client.get(f"/numbers/{setup['number']}/cells/voice_route/edit")
    assert plain.status_code == 303


def test_saving_returns_the_row_with_new_status_and_counts_out_of_band(app, client, hx, setup):
    login(client, "operator")
    hx.load_token()
    response = hx.post(f"/numbers/{setup['number']}/cells/voice_route",
                       data={"version": "1", "value": str(setup["trunk"])},
                       headers={"HX-Current-URL": "http://localhost/numbers?status=active"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="number-{setup["number"]}"')
    assert "badge-active" in body
    assert 'id="counts"' in body and 'hx-swap-oob="true"' in body
    assert re.search(r'qf-active"[^>]*>Active <span class="count">2</span>', body)
    assert 'id="flash"' in body and "Saved." in body
    with app.app_context():
        n = db.session.get(Number, setup["number"])
        assert n.voice_route_id == setup["trunk"] and n.status == "active" and n.version == 2
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "number.updated"))
        assert event.source == "web" and event.after == {"voice_route": "sip-main"}


def test_an_invalid_value_returns_422_with_the_message_under_the_control(app, client, hx, setup):
    login(client, "operator")
    hx.load_token()
    response = hx.post(f"/numbers/{setup['number']}/cells/capacity_limit", data={"version": "1", "value": "40000"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == f"#number-{setup['number']}-capacity_limit"
    assert "Enter a whole number from 1 to 32,767, or leave blank for no limit." in body
    assert 'aria-invalid="true"' in body and 'value="40000"' in body
    assert _version(app, setup["number"]) == 1


@pytest.mark.parametrize("field,data,message", [
    ("description", {"value": "x" * 256}, "Description must be at most 255 characters."),
    ("renewal", {"mode": "count", "count": "0"}, "Enter a whole number of renewals from 1 to 999."),
    ("renewal", {"mode": "count", "count": "abc"}, "Enter a whole number of renewals from 1 to 999."),
    ("sms_route", {"value": "1"}, "This number does not support inbound SMS."),
])
def test_each_cell_reports_its_messages(app, client, hx, setup, field, data, message):
    login(client, "operator")
    hx.load_token()
    response = hx.post(f"/numbers/{setup['number']}/cells/{field}", data={"version": "1", **data})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _version(app, setup["number"]) == 1


def test_a_stale_edit_gets_409_with_the_current_row_and_who_changed_it(app, client, hx, setup):
    admin = app.test_client()
    login(admin, "admin", email="boss@example.com")
    from tests.conftest import HX
    boss = HX(admin)
    boss.load_token()
    assert boss.post(f"/numbers/{setup['number']}/cells/description", data={"version": "1", "value": "Boss"}).status_code == 200
    login(client, "operator")
    hx.load_token()
    response = hx.post(f"/numbers/{setup['number']}/cells/description", data={"version": "1", "value": "Mine"})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Changed by Admin at " in body and "Your edit was not saved." in body
    assert "Boss" in body
    with app.app_context():
        assert db.session.get(Number, setup["number"]).description == "Boss"


def test_renewal_and_cancel_return_the_cell(app, client, hx, setup):
    login(client, "operator")
    hx.load_token()
    response = hx.post(f"/numbers/{setup['other']}/cells/renewal", data={"version": "1", "mode": "zero"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Won&#39;t renew" in body and "Expiring soon" in body
    cancel = hx.get(f"/numbers/{setup['other']}/cells/renewal")
    assert cancel.status_code == 200 and f'id="number-{setup["other"]}"' in cancel.get_data(as_text=True)


@pytest.mark.parametrize("field", ["description", "voice_route", "sms_route", "capacity_limit", "renewal"])
def test_cell_writes_refuse_anonymous_viewers_and_missing_tokens(app, client, setup, field):
    path = f"/numbers/{setup['number']}/cells/{field}"
    data = {"version": "1", "value": "x", "mode": "zero"}
    login(app.test_client(), "admin")
    assert client.post(path, data=data).status_code in (302, 400)  # anonymous: CSRF runs first
    login(client, "viewer")
    from tests.conftest import HX
    viewer = HX(client)
    viewer.load_token()
    assert viewer.post(path, data=data).status_code == 403
    operator = app.test_client()
    login(operator, "operator")
    response = operator.post(path, data=data, headers={"HX-Request": "true"})
    assert response.status_code == 400 and response.headers["HX-Refresh"] == "true"
    assert _version(app, setup["number"]) == 1


def test_free_text_is_escaped_in_the_table_and_on_the_details_page(app, client, setup):
    payload = '<script>alert("x")</script>'
    with app.app_context():
        n = db.session.get(Number, setup["number"])
        n.description = payload
        db.session.commit()
        digits = n.digits
    for role in ("operator", "viewer"):
        c = app.test_client()
        login(c, role)
        for path in ("/numbers", f"/numbers/{digits}"):
            html = c.get(path).get_data(as_text=True)
            assert payload not in html and "&lt;script&gt;alert(" in html, (role, path)
