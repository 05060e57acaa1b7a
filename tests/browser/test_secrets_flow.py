"""An HTTP-in SMS trunk in a real browser (issue 8 §4): a viewer sees the header and query-parameter
names with their values masked, also in the trunk's history; an operator sees the values on the form."""
import os
import re

import pytest
from playwright.sync_api import expect

from did_app.audit import Actor
from did_app.auth import service as auth
from did_app.configuration import routes_service

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def _sign_in(page, live, email):
    page.goto(live + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|Log in")).click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()


def test_a_viewer_sees_names_not_tokens(live_app, live, page, tmp_path):
    cli = Actor(None, "cli", "cli")
    with live_app.app_context():
        for role in ("viewer", "operator"):
            auth.create_user(cli, email=f"{role}@example.com", display_name=role.title(), role=role,
                             password=PASSWORD)
        trunk, _ = routes_service.create_sms_trunk(cli, "http_in", {
            "name": "CRM hook", "url": "https://crm.example.com/sms", "method": "GET", "priority": 100,
            "verify_tls": True, "headers": [{"key": "Authorization", "value": "Bearer tok-SECRET-1"}],
            "query_parameters": [{"key": "api_key", "value": "qk-SECRET-2"}, {"key": "text", "value": "{SMS_TEXT}"}]})
        trunk_id = trunk.id

    _sign_in(page, live, "viewer@example.com")
    page.goto(f"{live}/configuration/sms-trunks/{trunk_id}")
    settings = page.locator("section.card", has=page.get_by_role("heading", name="Settings"))
    expect(settings).to_contain_text("Authorization=•••• set")
    expect(settings).to_contain_text("api_key=•••• set; text=•••• set")
    expect(page.locator("#history")).to_contain_text("Authorization=changed")
    body = page.locator("body").inner_text()
    assert "tok-SECRET" not in body and "qk-SECRET" not in body
    page.screenshot(path=os.environ.get("SECRETS_SCREENSHOT", str(tmp_path / "sms-trunk-viewer.png")), full_page=True)

    page.context.clear_cookies()
    _sign_in(page, live, "operator@example.com")
    page.goto(f"{live}/configuration/sms-trunks/{trunk_id}")
    expect(page.get_by_label("Headers")).to_have_value("Authorization: Bearer tok-SECRET-1")
    expect(page.locator("#history")).not_to_contain_text("tok-SECRET")
