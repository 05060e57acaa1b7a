"""Details page edits and readiness fixes: out-of-band sections, 422, 409, roles."""
import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import AuditEvent, Number
from tests import factories as f
from tests.conftest import HX, csrf_from, login


@pytest.fixture
def number(app):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        pool = f.make_pool(countries=("US",), total=10, name="US pool")
        group = f.make_capacity_group(pool=pool, shared=2, name="US shared")
        n = f.make_number(capacity_mode="zero_included", channels_included=0, features=("voice_in", "sms_in"))
        sms = f.make_sms_trunk(name="crm-webhook")
        return {"id": n.id, "digits": n.digits, "trunk": trunk.id, "group": group.id, "pool": pool.id, "sms": sms.id}


def _post(app, role, path, data):
    client = app.test_client()
    login(client, role)
    hx = HX(client)
    hx.load_token()
    return hx.post(path, data=data)


def _fix(app, number, data, version=1, role="operator"):
    return _post(app, role, f"/numbers/{number['digits']}/sections/fix", {"version": str(version), **data})


def test_readiness_fixes_walk_a_number_to_ready(app, client, number):
    login(client, "operator")
    html = client.get(f"/numbers/{number['digits']}").get_data(as_text=True)
    assert "Assign voice trunk" in html and "Add to capacity group…" in html and "Assign SMS trunk" in html
    response = _fix(app, number, {"voice_route_id": number["trunk"]})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="readiness"' in body and 'hx-swap-oob="true"' in body
    assert "No inbound capacity" in body and "badge-not_configured" in body
    response = _fix(app, number, {"capacity_group_id": number["group"]}, version=2)
    body = response.get_data(as_text=True)
    assert "badge-active" in body and "Inbound calling ready" in body
    response = _fix(app, number, {"sms_route_id": number["sms"]}, version=3)
    body = response.get_data(as_text=True)
    assert "Routed to crm-webhook." in body and "Not ready" not in body
    with app.app_context():
        n = db.session.get(Number, number["id"])
        assert (n.status, n.voice_route_id, n.capacity_group_id, n.sms_route_id) == (
            "active", number["trunk"], number["group"], number["sms"])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "number.updated")) == 3


def test_switch_to_two_included_sets_the_next_mode_with_the_current_price(app, number):
    response = _fix(app, number, {"next_capacity_mode": "two_included"})
    assert response.status_code == 200
    with app.app_context():
        n = db.session.get(Number, number["id"])
        assert n.next_capacity_mode == "two_included" and n.next_monthly_price_minor == n.monthly_price_minor


def test_capacity_section_errors_show_next_to_the_field_and_write_nothing(app, number):
    response = _post(app, "operator", f"/numbers/{number['digits']}/sections/capacity",
                     {"version": "1", "capacity_limit": "0", "dedicated_channels": "0"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="capacity_limit-error"' in body and "Enter a whole number from 1 to 32,767" in body
    response = _post(app, "operator", f"/numbers/{number['digits']}/sections/capacity",
                     {"version": "1", "dedicated_channels": "11", "capacity_pool_id": str(number["pool"])})
    assert "Pool US pool has 8 unassigned channels; 11 are needed." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Number, number["id"]).version == 1


def test_billing_cycles_and_description_save(app, number):
    assert _post(app, "operator", f"/numbers/{number['digits']}/sections/billing",
                 {"version": "1", "mode": "count", "count": "3"}).status_code == 200
    assert _post(app, "operator", f"/numbers/{number['digits']}/sections/general",
                 {"version": "2", "description": "Front desk"}).status_code == 200
    with app.app_context():
        n = db.session.get(Number, number["id"])
        assert (n.billing_cycles_count, n.description) == (3, "Front desk")


def test_a_stale_details_edit_is_409(app, number):
    assert _fix(app, number, {"voice_route_id": number["trunk"]}).status_code == 200
    response = _fix(app, number, {"capacity_group_id": number["group"]}, version=1)
    assert response.status_code == 409 and "Your edit was not saved." in response.get_data(as_text=True)


def test_viewers_see_no_fixes_and_are_refused(app, client, number):
    login(client, "viewer")
    html = client.get(f"/numbers/{number['digits']}").get_data(as_text=True)
    assert "No voice trunk. Inbound calls go nowhere." in html and "Assign voice trunk" not in html
    assert "Change capacity" not in html
    assert _fix(app, number, {"voice_route_id": number["trunk"]}, role="viewer").status_code == 403
    operator = app.test_client()
    login(operator, "operator")
    no_token = operator.post(f"/numbers/{number['digits']}/sections/fix", data={"version": "1"})
    assert no_token.status_code == 400
    with app.app_context():
        assert db.session.get(Number, number["id"]).version == 1


def test_without_javascript_the_form_posts_and_redirects(app, number):
    client = app.test_client()
    login(client, "operator")
    token = csrf_from(client.get(f"/numbers/{number['digits']}").get_data(as_text=True))
    response = client.post(f"/numbers/{number['digits']}/sections/fix",
                           data={"csrf_token": token, "version": "1", "voice_route_id": str(number["trunk"])})
    assert response.status_code == 303 and response.headers["Location"].endswith("#readiness")


def test_apply_profile_fix(app, client, number):
    from did_app.models import ConfigurationProfile
    with app.app_context():
        profile = ConfigurationProfile(name="US default", voice_route_id=number["trunk"],
                                       capacity_group_id=number["group"])
        db.session.add(profile)
        db.session.commit()
        profile_id = profile.id
    login(client, "operator")
    assert "Apply profile…" in client.get(f"/numbers/{number['digits']}").get_data(as_text=True)
    response = _post(app, "operator", f"/numbers/{number['digits']}/apply-profile",
                     {"version": "1", "profile_id": str(profile_id)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Profile applied." in body and "badge-active" in body
    again = _post(app, "operator", f"/numbers/{number['digits']}/apply-profile",
                  {"version": "2", "profile_id": str(profile_id)})
    assert "Already matches profile" in again.get_data(as_text=True)
    assert _post(app, "viewer", f"/numbers/{number['digits']}/apply-profile",
                 {"version": "2", "profile_id": str(profile_id)}).status_code == 403
