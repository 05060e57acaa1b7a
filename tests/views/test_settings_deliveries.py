"""Settings: the webhook URL, secret and switch, "Send test" for email and webhook, and the last 100
deliveries (issue 12 §3, §4, §7; README settings table)."""
import re

import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import AuditEvent, Delivery, Workspace
from tests.conftest import csrf_from, login
from tests.delivery_sinks import verify_signature


def _form(client, **changes):
    page = client.get("/settings").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "version": re.search(r'name="version"[^>]*value="(\d+)"', page).group(1),
            "workspace_name": "Acme", "currency": "USD", "time_zone": "UTC", "default_country": "US",
            "warn_days": "7", "critical_days": "1", "reminder_offsets": "30, 7, 1", "forecast_horizon_days": "30",
            "registration_deadline_days": "30", "resubmit_grace_days": "7", "aging_pool_days": "34",
            "restore_window_days": "35", "undo_window_hours": "24", "digest_hour": "8", "webhook_url": "",
            "webhook_secret": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _ws(app):
    with app.app_context():
        ws = db.session.scalar(sa.select(Workspace))
        db.session.expunge(ws)
        return ws


@pytest.mark.parametrize("url", ["ftp://example.com/x", "javascript:alert(1)", "example.com/hook", "http://",
                                 "https://exa mple.com/", "http://localhost:99999/", "http://[::1"])
def test_a_webhook_url_that_is_not_http_is_refused_under_the_field(app, client, url):
    login(client, "admin")
    response = client.post("/settings", data=_form(client, webhook_url=url, webhook_enabled="y"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="webhook_url-error"[^>]*>Enter an http or https URL', body)
    assert 'aria-invalid="true"' in body
    assert _ws(app).webhook_url is None


def test_turning_the_webhook_on_needs_a_url_and_a_long_enough_secret(app, client):
    login(client, "admin")
    no_url = client.post("/settings", data=_form(client, webhook_enabled="y"))
    assert no_url.status_code == 422
    assert "Enter the webhook URL to turn the webhook on." in no_url.get_data(as_text=True)
    short = client.post("/settings", data=_form(client, webhook_url="https://hooks.example.com/did",
                                                 webhook_secret="too-short"))
    assert short.status_code == 422
    assert re.search(r'id="webhook_secret-error"[^>]*>Enter at least 16 characters', short.get_data(as_text=True))
    assert not _ws(app).webhook_enabled


def test_turning_the_webhook_on_generates_a_secret_kept_on_later_saves_and_never_audited(app, client):
    login(client, "admin")
    saved = client.post("/settings", data=_form(client, webhook_url="https://hooks.example.com/did",
                                                 webhook_enabled="y"))
    assert saved.status_code == 302
    ws = _ws(app)
    assert (ws.webhook_url, ws.webhook_enabled) == ("https://hooks.example.com/did", True)
    assert len(ws.webhook_secret) >= 16
    client.post("/settings", data=_form(client, webhook_url="https://hooks.example.com/did", webhook_enabled="y",
                                        webhook_secret=""))
    assert _ws(app).webhook_secret == ws.webhook_secret
    client.post("/settings", data=_form(client, webhook_url="http://10.0.0.5:8080/hook",
                                        webhook_secret="a-chosen-secret-of-24ch"))
    ws = _ws(app)
    assert (ws.webhook_url, ws.webhook_secret, ws.webhook_enabled) == (
        "http://10.0.0.5:8080/hook", "a-chosen-secret-of-24ch", False)
    with app.app_context():
        afters = db.session.scalars(sa.select(AuditEvent.after).where(AuditEvent.action == "settings.updated")).all()
    assert any(a.get("webhook_secret") == "changed" for a in afters)
    assert not any("a-chosen-secret" in str(a) for a in afters)


def test_email_is_off_without_smtp_and_the_test_button_appears_with_it(app, client, smtp_sink):
    login(client, "admin")
    page = client.get("/settings").get_data(as_text=True)
    assert "Email is off: SMTP is not configured." in page and "Send test email" not in page
    smtp_sink.use(app)
    page = client.get("/settings").get_data(as_text=True)
    assert "Email is off" not in page and "Send test email" in page


def test_send_test_email_reaches_the_current_user_and_shows_in_the_list(app, client, smtp_sink):
    login(client, "admin", email="ada@example.com")
    smtp_sink.use(app)
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    response = client.post("/settings/test-email", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/settings"
    [msg] = smtp_sink.messages
    assert msg["To"] == "ada@example.com"
    page = client.get("/settings").get_data(as_text=True)
    assert "Test email sent to ada@example.com." in page
    assert re.search(r"<td>Email \(test\)</td>\s*<td>ada@example.com</td>", page)
    smtp_sink.reject(1, "550 5.1.1 No such user")
    client.post("/settings/test-email", data={"csrf_token": token})
    page = client.get("/settings").get_data(as_text=True)
    assert "The test email was not sent: SMTP error 550" in page
    assert "SMTP error 550: 5.1.1 No such user" in page.split("deliveries-table")[1]


def test_send_test_email_without_smtp_says_email_is_off_and_writes_nothing(app, client):
    login(client, "admin")
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    response = client.post("/settings/test-email", data={"csrf_token": token}, follow_redirects=True)
    assert "Email is off: SMTP is not configured." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_send_test_webhook_is_signed_and_its_failure_is_shown(app, client, http_receiver):
    login(client, "admin")
    client.post("/settings", data=_form(client, webhook_url=http_receiver.url, webhook_enabled="y"))
    secret = _ws(app).webhook_secret
    page = client.get("/settings").get_data(as_text=True)
    token = csrf_from(page)
    assert "Send test webhook" in page
    response = client.post("/settings/test-webhook", data={"csrf_token": token}, follow_redirects=True)
    assert "Test webhook delivered (HTTP 200)." in response.get_data(as_text=True)
    [req] = http_receiver.requests
    assert verify_signature(secret, req) and req.headers["X-DidApp-Event"] == "test"
    http_receiver.respond(301)
    page = client.post("/settings/test-webhook", data={"csrf_token": token}, follow_redirects=True).get_data(
        as_text=True)
    assert "The test webhook failed: HTTP 301 Moved Permanently" in page
    assert len(http_receiver.requests) == 2  # the redirect was not followed
    rows = page.split("deliveries-table")[1]
    assert rows.count("Webhook (test)") == 2 and http_receiver.url in rows


def test_test_webhook_without_a_url_explains(app, client):
    login(client, "admin")
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    page = client.post("/settings/test-webhook", data={"csrf_token": token}, follow_redirects=True)
    assert "Save a webhook URL and secret first." in page.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/settings/test-email", "/settings/test-webhook"])
@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_send_test_is_admin_only(app, client, smtp_sink, path, role):
    smtp_sink.use(app)
    login(client, role)
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 403
    assert smtp_sink.messages == []


@pytest.mark.parametrize("path", ["/settings/test-email", "/settings/test-webhook"])
def test_send_test_needs_the_csrf_token(app, client, smtp_sink, path):
    smtp_sink.use(app)
    login(client, "admin")
    assert client.post(path, data={}).status_code == 400
    assert smtp_sink.messages == []


def test_the_list_shows_the_last_100_deliveries_newest_first(app, client, clock):
    login(client, "admin", email="ada@example.com")
    with app.app_context():
        for i in range(105):
            db.session.add(Delivery(channel="webhook", status="failed", attempts=6, response_code=500,
                                    last_error=f"HTTP 500 boom {i}", created_at=clock.advance(minutes=1)))
        db.session.commit()
    page = client.get("/settings").get_data(as_text=True)
    assert "The last 100 of both channels, newest first." in page
    assert "boom 104<" in page and "boom 5<" in page and "boom 4<" not in page
    assert page.index("boom 104<") < page.index("boom 5<")
