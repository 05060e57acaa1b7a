"""The account page in the browser: sign out everywhere ends this browser's session and the others'."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def _setup_admin(page, live):
    page.goto(live + "/setup")
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and open My Numbers").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()


def _login(page, live):
    page.goto(live + "/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()


def test_sign_out_everywhere_from_the_profile(live_app, live, page, browser):
    _setup_admin(page, live)
    other = browser.new_context().new_page()
    _login(other, live)

    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text("2 sessions are signed in")).to_be_visible()
    expect(page.get_by_role("link", name="Change password")).to_have_attribute("href", "/account/password")
    page.get_by_role("button", name="Sign out everywhere").click()

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("You are signed out everywhere")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto(live + "/numbers")
    expect(page).to_have_url(re.compile(r"/login\?next=/numbers$"))
    other.reload()  # the other browser's session ended too
    expect(other).to_have_url(re.compile(r"/login\?next=/numbers$"))
    other.context.close()
