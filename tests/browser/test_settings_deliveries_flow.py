"""Settings in the browser (issue 12 §3, §4, §7): email off without SMTP; a non-http webhook URL is
refused under its field; turning the webhook on generates a secret; "Send test webhook" and "Send
test email" reach a real receiver and SMTP server and show in the deliveries list."""
import json
import os

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import Workspace
from tests.delivery_sinks import verify_signature

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there to be looked at


def _shoot(page, name):
    if not SHOTS:
        return
    os.makedirs(SHOTS, exist_ok=True)
    for width in (1400, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})


def test_webhook_and_email_settings_with_their_tests(live_app, live, page, first_admin, smtp_sink, http_receiver,
                                                      monkeypatch):
    first_admin()
    page.goto(live + "/settings")
    expect(page.get_by_text("Email is off: SMTP is not configured.")).to_be_visible()
    expect(page.get_by_role("button", name="Send test email")).to_have_count(0)

    page.get_by_label("Webhook URL").fill("ftp://hooks.example.com/did")
    page.get_by_label("Send notifications to the webhook").check()
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#webhook_url-error")
    expect(error).to_have_text("Enter an http or https URL, e.g. https://example.com/hooks/did.")
    expect(page.get_by_label("Webhook URL")).to_have_attribute("aria-invalid", "true")
    _shoot(page, "settings-error")

    page.get_by_label("Webhook URL").fill(http_receiver.url)
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    secret = page.get_by_label("Webhook secret").input_value()
    assert len(secret) >= 16
    with live_app.app_context():
        assert db.session.scalar(sa.select(Workspace.webhook_secret)) == secret
        db.session.remove()

    page.get_by_role("button", name="Send test webhook").click()
    expect(page.get_by_text("Test webhook delivered (HTTP 200).")).to_be_visible()
    [req] = http_receiver.requests
    assert verify_signature(secret, req) and json.loads(req.body)["kind"] == "test"
    http_receiver.respond(500)
    page.get_by_role("button", name="Send test webhook").click()
    expect(page.get_by_text("The test webhook failed: HTTP 500")).to_be_visible()

    monkeypatch.setitem(live_app.config, "SMTP_HOST", smtp_sink.host)
    monkeypatch.setitem(live_app.config, "SMTP_PORT", smtp_sink.port)
    page.reload()
    expect(page.get_by_text("Email is off")).to_have_count(0)
    page.get_by_role("button", name="Send test email").click()
    expect(page.get_by_text("Test email sent to ada@example.com.")).to_be_visible()
    assert [m["To"] for m in smtp_sink.messages] == ["ada@example.com"]

    rows = page.locator("table.deliveries-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Email (test)")
    expect(rows.nth(0)).to_contain_text("Sent")
    expect(rows.nth(1)).to_contain_text("Failed")
    expect(rows.nth(1)).to_contain_text("500")
    _shoot(page, "settings-deliveries")
