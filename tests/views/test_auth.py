"""First run, login and throttling, logout, the Users page and CSRF (access.md §1–§5)."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import AuditEvent, LoginAttempt, User, Workspace
from tests.conftest import csrf_from, login

PASSWORD = "correct horse battery staple"


def _setup_form(client, **overrides):
    token = csrf_from(client.get("/setup").get_data(as_text=True))
    data = {"csrf_token": token, "display_name": "Ada Admin", "email": "ada@example.com",
            "password": PASSWORD, "confirm": PASSWORD, "workspace_name": "Acme Numbers",
            "currency": "EUR", "time_zone": "Europe/London", "default_country": "GB"}
    data.update(overrides)
    return data


def test_first_run_redirects_everything_to_setup(client):
    for path in ("/numbers", "/", "/login", "/users"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/setup"), path
    assert client.get("/healthz").status_code == 200


def test_setup_creates_the_admin_saves_settings_and_logs_in(app, client):
    response = client.post("/setup", data=_setup_form(client))
    assert response.status_code == 302 and response.headers["Location"].endswith("/numbers")
    page = client.get("/numbers").get_data(as_text=True)
    assert "Acme Numbers" in page and "No numbers yet" in page
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        ws = db.session.scalar(sa.select(Workspace))
        assert user.role == "admin" and user.email == "ada@example.com"
        assert (ws.name, ws.currency, ws.time_zone, ws.default_country) == ("Acme Numbers", "EUR", "Europe/London", "GB")
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
        assert {"user.created", "settings.updated"} <= actions
    assert client.get("/setup").status_code == 404


def test_setup_errors_show_next_to_the_field_and_write_nothing(app, client):
    response = client.post("/setup", data=_setup_form(client, password="short", confirm="short"))
    assert response.status_code == 422
    assert "Password must be 12–128 characters." in response.get_data(as_text=True)
    response = client.post("/setup", data=_setup_form(client, password="ada-is-my-password", confirm="ada-is-my-password"))
    assert "Password must not contain your email name." in response.get_data(as_text=True)
    response = client.post("/setup", data=_setup_form(client, confirm="something else entirely"))
    assert "Passwords don&#39;t match." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_a_second_setup_submit_is_sent_to_login(app, client):
    data = _setup_form(client)
    other = app.test_client()
    other_data = _setup_form(other, email="bob@example.com")
    client.post("/setup", data=data)
    response = other.post("/setup", data=other_data, follow_redirects=True)
    assert "Setup is already complete." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def _login(client, email, password):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


def test_login_success_failure_and_next(app, client):
    login(app.test_client(), "admin", email="admin@example.com")
    bad = _login(client, "admin@example.com", "wrong password here")
    assert bad.status_code == 422 and "Email or password is incorrect." in bad.get_data(as_text=True)
    unknown = _login(client, "nobody@example.com", "wrong password here")
    assert "Email or password is incorrect." in unknown.get_data(as_text=True)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    ok = client.post("/login?next=/numbers%3Fstatus%3Dactive",
                     data={"csrf_token": token, "email": "ADMIN@example.com", "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"] == "/numbers?status=active"
    evil = app.test_client()
    token = csrf_from(evil.get("/login").get_data(as_text=True))
    off_site = evil.post("/login?next=//evil.example/x",
                         data={"csrf_token": token, "email": "admin@example.com", "password": PASSWORD})
    assert off_site.headers["Location"] == "/numbers"


def test_login_is_throttled_after_five_failures(app, client, clock):
    login(app.test_client(), "admin", email="admin@example.com")
    for _ in range(5):
        _login(client, "admin@example.com", "wrong password here")
    refused = _login(client, "admin@example.com", PASSWORD)
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in refused.get_data(as_text=True)
    clock.advance(minutes=16)
    assert _login(client, "admin@example.com", PASSWORD).status_code == 302
    with app.app_context():
        results = list(db.session.scalars(sa.select(LoginAttempt.result).order_by(LoginAttempt.id)))
        assert results == ["failure"] * 5 + ["throttled", "success"]


def _version(page: str) -> str:
    """The hidden version an edit form was rendered with."""
    tag = re.search(r'<input[^>]*name="version"[^>]*>', page).group(0)
    return re.search(r'value="(\d+)"', tag).group(1)


def _login_from(app, ip, email, password):
    """A login from a browser at `ip` (remote_addr)."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = ip
    return _login(browser, email, password)


def _failures(app, rows, minutes_ago=5):
    """Failed attempts already on record: (email, ip) pairs, `minutes_ago` minutes before now."""
    with app.app_context():
        at = app.extensions["clock"].now() - timedelta(minutes=minutes_ago)
        db.session.add_all(LoginAttempt(at=at, email=email, ip=ip, result="failure") for email, ip in rows)
        db.session.commit()


def _results(app):
    with app.app_context():
        return list(db.session.scalars(sa.select(LoginAttempt.result).order_by(LoginAttempt.id)))


REFUSED = "Too many failed sign-in attempts. Try again in {} minutes."


def test_five_failures_lock_the_email_only_from_that_address(app, clock):
    """A stranger elsewhere cannot lock the admin out with five tries (access.md §4)."""
    login(app.test_client(), "admin", email="admin@example.com")
    for _ in range(5):
        assert _login_from(app, "203.0.113.9", "admin@example.com", "wrong password here").status_code == 422
    refused = _login_from(app, "203.0.113.9", "admin@example.com", PASSWORD)
    assert refused.status_code == 422 and REFUSED.format(15) in refused.get_data(as_text=True)
    assert _login_from(app, "198.51.100.7", "admin@example.com", PASSWORD).status_code == 302
    assert _results(app) == ["failure"] * 5 + ["throttled", "success"]


def test_twenty_failures_for_an_email_lock_it_from_every_address(app):
    login(app.test_client(), "admin", email="admin@example.com")
    _failures(app, [("admin@example.com", f"203.0.113.{i % 5}") for i in range(19)])  # ≤ 4 per address
    assert _login_from(app, "198.51.100.1", "admin@example.com", "wrong password here").status_code == 422
    assert _results(app)[-1] == "failure"  # the 20th failure, from a new address
    refused = _login_from(app, "198.51.100.2", "admin@example.com", PASSWORD)
    assert refused.status_code == 422 and REFUSED.format(10) in refused.get_data(as_text=True)
    assert _results(app)[-1] == "throttled"


def test_twenty_failures_from_one_address_lock_that_address(app):
    login(app.test_client(), "admin", email="admin@example.com")
    _failures(app, [(f"guess{i}@example.com", "203.0.113.50") for i in range(19)])
    assert _login_from(app, "203.0.113.50", "guess19@example.com", "wrong password here").status_code == 422
    refused = _login_from(app, "203.0.113.50", "admin@example.com", PASSWORD)
    assert refused.status_code == 422 and REFUSED.format(10) in refused.get_data(as_text=True)
    assert _login_from(app, "203.0.113.51", "admin@example.com", PASSWORD).status_code == 302
    assert _results(app)[-3:] == ["failure", "throttled", "success"]


def test_a_throttled_attempt_does_not_extend_the_lock(app, clock):
    login(app.test_client(), "admin", email="admin@example.com")
    _failures(app, [("admin@example.com", "203.0.113.9")] * 5, minutes_ago=0)
    clock.advance(minutes=10)
    refused = _login_from(app, "203.0.113.9", "admin@example.com", PASSWORD)
    assert REFUSED.format(5) in refused.get_data(as_text=True)
    clock.advance(minutes=4, seconds=30)
    refused = _login_from(app, "203.0.113.9", "admin@example.com", PASSWORD)
    assert REFUSED.format(1) in refused.get_data(as_text=True)  # 30 s left, rounded up
    clock.advance(seconds=31)  # 15 minutes after the failures, whatever was refused meanwhile
    assert _login_from(app, "203.0.113.9", "admin@example.com", PASSWORD).status_code == 302
    assert _results(app)[-3:] == ["throttled", "throttled", "success"]


def test_failures_before_the_last_success_do_not_count(app, clock):
    login(app.test_client(), "admin", email="admin@example.com")
    _failures(app, [("admin@example.com", "203.0.113.9")] * 4, minutes_ago=3)
    assert _login_from(app, "203.0.113.9", "admin@example.com", PASSWORD).status_code == 302
    clock.advance(minutes=1)
    _failures(app, [("admin@example.com", "203.0.113.9")] * 4, minutes_ago=0)
    assert _login_from(app, "203.0.113.9", "admin@example.com", "wrong password here").status_code == 422
    assert _results(app)[-1] == "failure"  # 5 in the window since the success: the next is refused
    assert REFUSED.format(15) in _login_from(app, "203.0.113.9", "admin@example.com", PASSWORD).get_data(as_text=True)


def test_deactivated_users_cannot_log_in_and_lose_their_session(app, client):
    admin_client = app.test_client()
    login(admin_client, "admin", email="admin@example.com")
    user_id = login(client, "operator", email="op@example.com")
    assert client.get("/numbers").status_code == 200
    from did_app.audit import Actor
    from did_app.auth import service
    with app.app_context():
        service.update_user(Actor(None, "cli"), user_id, display_name="Op", role="operator", active=False)
    assert client.get("/numbers").status_code == 302
    assert "Email or password is incorrect." in _login(app.test_client(), "op@example.com", PASSWORD).get_data(as_text=True)


def test_logout_is_post_with_csrf(app, client):
    login(client, "viewer")
    assert client.get("/logout").status_code == 405
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    assert "You are signed out." in response.get_data(as_text=True)
    assert client.get("/numbers").status_code == 302


def test_htmx_write_without_token_gets_400_and_refresh(app, client):
    login(client, "operator")
    response = client.post("/numbers/lists", data={"q": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and response.headers["HX-Refresh"] == "true"


def test_session_ends_after_fourteen_days(app, client, clock):
    login(app.test_client(), "viewer", email="v@example.com")  # the real form below sets login_at
    assert _login(client, "v@example.com", PASSWORD).status_code == 302
    assert client.get("/numbers").status_code == 200
    clock.advance(days=14, minutes=1)
    assert client.get("/numbers").status_code == 302


@pytest.mark.parametrize("role,status", [("viewer", 403), ("operator", 403), ("admin", 200)])
def test_users_page_is_for_admins(app, client, role, status):
    login(client, role)
    assert client.get("/users").status_code == status


def test_admin_creates_a_user_with_a_generated_password(app, client):
    login(client, "admin", email="boss@example.com")
    token = csrf_from(client.get("/users").get_data(as_text=True))
    response = client.post("/users", data={"csrf_token": token, "email": "New@Example.com",
                                           "display_name": "New Person", "role": "viewer", "password": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Generated password, shown once" in html
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "new@example.com"))
        assert user.role == "viewer" and user.must_change_password


def test_the_last_admin_cannot_be_demoted(app, client):
    admin_id = login(client, "admin", email="only@example.com")
    page = client.get(f"/users/{admin_id}").get_data(as_text=True)
    response = client.post(f"/users/{admin_id}", data={"csrf_token": csrf_from(page), "display_name": "Only",
                                                        "role": "viewer", "active": "y", "version": _version(page)})
    assert response.status_code == 422
    assert "At least one active admin is required." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, admin_id).role == "admin"


@pytest.mark.parametrize("path", ["/users", "/users/1", "/users/1/reset-password"])
def test_user_writes_refuse_viewers_and_tokenless_requests(app, client, path):
    login(client, "admin", email="a1@example.com")
    assert client.post(path, data={"email": "x@example.com"}).status_code == 400  # no CSRF token
    viewer = app.test_client()
    login(viewer, "viewer")
    token = csrf_from(viewer.get("/numbers").get_data(as_text=True))
    assert viewer.post(path, data={"csrf_token": token, "email": "x@example.com"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


def test_create_user_cli(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "cli@example.com", "--role", "operator"])
    assert result.exit_code == 0 and "Password (shown once" in result.output
    result = runner.invoke(args=["create-user", "cli@example.com", "--role", "operator"])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(args=["create-user", "p@example.com", "--role", "admin", "--password-stdin"],
                           input="short\n")
    assert result.exit_code != 0 and "Password must be 12–128 characters." in result.output


def test_settings_page_saves_and_reports_errors_next_to_fields(app, client):
    login(client, "admin")
    html = client.get("/numbers").get_data(as_text=True)
    assert "Please review the workspace settings" in html  # the first admin came from the CLI
    page = client.get("/settings").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "version": _version(page), "workspace_name": "Ops", "currency": "USD", "time_zone": "UTC",
            "default_country": "US", "warn_days": "7", "critical_days": "9", "reminder_offsets": "30, 7, 7",
            "forecast_horizon_days": "30", "registration_deadline_days": "30", "resubmit_grace_days": "7",
            "aging_pool_days": "34", "restore_window_days": "35", "undo_window_hours": "24", "digest_hour": "8"}
    bad = client.post("/settings", data=data)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Critical days must be fewer than warn days." in body
    assert "Enter 1–6 different offsets, each 1–365 days." in body
    with app.app_context():
        assert db.session.scalar(sa.select(Workspace.name)) == "My Numbers"
    good = client.post("/settings", data={**data, "critical_days": "2", "reminder_offsets": "7, 30"})
    assert good.status_code == 302
    with app.app_context():
        ws = db.session.scalar(sa.select(Workspace))
        assert (ws.name, ws.critical_days, ws.reminder_offsets, ws.settings_reviewed) == ("Ops", 2, [30, 7], True)
    assert "Please review the workspace settings" not in client.get("/numbers").get_data(as_text=True)


def test_settings_are_admin_only(app, client):
    login(client, "operator")
    assert client.get("/settings").status_code == 403


@pytest.mark.parametrize("target", ["/\\evil.example/x", "/\tnumbers", "https://evil.example/"])
def test_login_refuses_a_next_that_a_browser_would_read_as_another_site(app, client, target):
    login(app.test_client(), "admin", email="admin@example.com")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", query_string={"next": target},
                           data={"csrf_token": token, "email": "admin@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/numbers"


def test_an_address_spraying_accounts_stays_locked_whatever_each_account_does(app, clock):
    """The IP limit ignores the target email's own last success (a spray over active accounts)."""
    login(app.test_client(), "admin", email="admin@example.com")
    _failures(app, [(f"guess{i}@example.com", "203.0.113.50") for i in range(20)], minutes_ago=5)
    assert _login_from(app, "198.51.100.7", "admin@example.com", PASSWORD).status_code == 302  # its own sign-in
    refused = _login_from(app, "203.0.113.50", "admin@example.com", "wrong password here")
    assert REFUSED.format(10) in refused.get_data(as_text=True)
