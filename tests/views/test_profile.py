"""The profile's digest opt-in (default on for admins, off for others) and the calendar link."""
import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import AuditEvent, User
from tests.conftest import csrf_from, login


def _opt_in(app, user_id) -> bool:
    with app.app_context():
        return db.session.scalar(sa.select(User.digest_opt_in).where(User.id == user_id))


@pytest.mark.parametrize(("role", "default"), [("admin", True), ("operator", False), ("viewer", False)])
def test_the_checkbox_shows_the_default_of_the_role(app, client, role, default):
    login(client, role)
    html = client.get("/account").get_data(as_text=True)
    box = html[html.index('id="digest_opt_in"'):].split(">", 1)[0]
    assert ("checked" in box) is default
    assert "Email is off: SMTP is not configured" in html


def test_opting_in_and_out(app, client):
    user_id = login(client, "viewer")
    token = csrf_from(client.get("/account").get_data(as_text=True))
    response = client.post("/account/digest", data={"csrf_token": token, "digest_opt_in": "y"})
    assert response.status_code == 303 and _opt_in(app, user_id) is True
    assert "You will get the daily email digest." in client.get("/account").get_data(as_text=True)
    client.post("/account/digest", data={"csrf_token": token})  # an unticked box sends nothing
    assert _opt_in(app, user_id) is False
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "user.digest_opt_in_changed")) == 2


def test_profile_writes_need_csrf(app, client):
    user_id = login(client, "admin")
    assert client.post("/account/digest", data={}).status_code == 400
    assert client.post("/account/calendar/reset", data={}).status_code == 400
    assert _opt_in(app, user_id) is True


def test_the_calendar_address_is_absolute_from_base_url(app, client):
    app.config["BASE_URL"] = "https://numbers.example.com/did/"
    login(client, "viewer")
    html = client.get("/account").get_data(as_text=True)
    assert 'value="https://numbers.example.com/did/calendar/' in html and "Reset link" in html
