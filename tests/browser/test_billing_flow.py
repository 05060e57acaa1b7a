"""An admin tops up the balance, sees a refused amount explained next to the field, and reads the
forecast's verdict."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests import factories as f
from tests.conftest import T0

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def test_top_up_then_forecast(live_app, live, page):
    with live_app.app_context():
        renews = T0 + timedelta(days=5)
        # renews 3 Dec, 3 Jan and 3 Feb for 90.00 each
        f.make_number(expires_at=renews, billing_anchor_day=renews.day, monthly_price_minor=9_000)

    page.goto(live + "/setup")
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and open My Numbers").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()

    page.get_by_role("link", name="Billing", exact=True).click()
    expect(page.locator("#balance-amount")).to_have_text("$0.00")
    top_up = page.get_by_role("region", name="Top up")

    # too many decimals: refused next to the field, nothing added
    top_up.get_by_label("Amount").fill("12.345")
    page.get_by_role("button", name="Add to balance").click()
    expect(page.locator("#top_up-amount-error")).to_have_text("Use at most 2 decimal places.")
    expect(page.locator("#balance-amount")).to_have_text("$0.00")

    top_up.get_by_label("Amount").fill("250.00")
    top_up.get_by_label("Note (optional)").fill("Wire transfer 0042")
    page.get_by_role("button", name="Add to balance").click()
    expect(page.get_by_text("Added $250.00. Balance $250.00.")).to_be_visible()
    expect(page.locator("#balance-amount")).to_have_text("$250.00")
    ledger_row = page.locator("#ledger tbody tr").first
    expect(ledger_row).to_contain_text("Top-up")
    expect(ledger_row).to_contain_text("Wire transfer 0042")

    # the ledger filter answers in place and keeps the URL; the top-up redirected to a full page, and
    # htmx (deferred) binds only once it has loaded: a Filter before then is a plain GET (a reload)
    page.wait_for_load_state()
    page.get_by_label("Kind").select_option(label="Renewal")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#ledger")).to_contain_text("No ledger rows match these filters.")
    expect(page).to_have_url(re.compile(r"kind=renewal"))

    page.get_by_role("link", name="Forecast", exact=True).click()
    expect(page.locator("#forecast-verdict")).to_have_text(
        "Balance runs out on 3 Feb 2027: 1 renewal ($90.00) can't be paid.")
    expect(page.locator("svg.forecast-chart")).to_be_visible()

    page.get_by_role("link", name="Balance & ledger").click()
    page.get_by_role("region", name="Top up").get_by_label("Amount").fill("1000")
    page.get_by_role("button", name="Add to balance").click()
    expect(page.locator("#balance-amount")).to_have_text("$1,250.00")
    page.get_by_role("link", name="Forecast", exact=True).click()
    expect(page.locator("#forecast-verdict")).to_have_text("Balance covers the next 90 days.")
