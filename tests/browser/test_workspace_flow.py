"""A new team's first visit, as a user would do it, in Debian's chromium."""
import csv
import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from did_app import clock
from tests import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def _inventory(app):
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk(name="sip-main")
        routed = [f.make_number(number=f"+1415555{1000 + i}", voice_route_id=trunk.id,
                                description=f"Sales line {i}") for i in range(6)]
        unrouted = [f.make_number(number=f"+1415555{2000 + i}", description="Support desk") for i in range(3)]
        f.make_number(number="+14155553000", porting=True, expires_at=None)
        f.make_number(number="+14155553001", voice_route_id=trunk.id, cancelled_at=now - timedelta(days=1))
        return [n.number for n in routed], [n.number for n in unrouted]


def test_first_run_login_filter_search_details_export(live_app, live, page):
    routed, unrouted = _inventory(live_app)

    # first run: every page leads to /setup, which creates the admin and reviews the settings
    page.goto(live + "/numbers")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_label("Workspace name").fill("Acme Voice")
    page.get_by_role("button", name="Create admin and open My Numbers").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()
    expect(page.locator(".brand")).to_have_text("Acme Voice")

    # sign out, then sign in again through the login form
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(11)
    # the sign-in redirected to a full page and htmx (deferred) binds only once it has loaded: a quick
    # filter before then is a plain link (a reload), not the swap this checks
    page.wait_for_load_state()

    # quick filter: counts the inventory, swaps the table, pushes the URL
    not_configured = page.get_by_role("button", name=re.compile(r"^Not configured"))
    expect(not_configured.locator(".count")).to_have_text("3")
    not_configured.click()
    expect(page).to_have_url(re.compile(r"status=not_configured"))
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_role("button", name=re.compile(r"^Not configured"))).to_have_attribute("aria-pressed", "true")
    page.go_back()
    expect(page.locator("tbody tr")).to_have_count(11)

    # paste-a-list: mixed formats, one unknown, one unparseable
    pasted = f"{routed[0]}\n(415) 555-{routed[1][-4:]}\n+14155559999\n12"
    page.get_by_label("Search numbers or descriptions").fill(pasted)
    page.get_by_role("button", name="Search", exact=True).click()
    report = page.get_by_label("Search report")
    expect(report).to_contain_text("Searched 4 numbers: 2 found.")
    expect(report).to_contain_text("1 not in the inventory: +1 415-555-9999")
    expect(report).to_contain_text("1 not recognised: 12")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"q="))

    # details page with its readiness checklist
    page.get_by_role("link", name="Clear all").click()
    expect(page.locator("tbody tr")).to_have_count(11)
    page.get_by_role("link", name=re.compile(r"\+1 415-555-" + unrouted[0][-4:])).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(unrouted[0][-4:]))
    readiness = page.locator("#readiness")
    expect(readiness).to_contain_text("No voice trunk. Inbound calls go nowhere.")
    expect(readiness).to_contain_text("Not ready: Voice trunk.")

    # export: the file holds the filtered rows
    page.goto(live + "/numbers?status=active")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    download = info.value
    assert re.match(r"my-numbers-\d{8}-\d{6}\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert rows[0][0] == "number" and sorted(r[0] for r in rows[1:]) == sorted(routed)


def test_filter_panel_and_sorting(live_app, live, page):
    routed, unrouted = _inventory(live_app)
    with live_app.app_context():
        f.make_number(number="+442071838750", country="GB", city="London")
    page.goto(live + "/numbers")
    page.get_by_label("Your name").fill("Ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and open My Numbers").click()

    page.locator("#filter-panel summary").click()
    page.get_by_label("Country").select_option("GB")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name=re.compile("Remove filter Country: United Kingdom"))).to_be_visible()
    page.get_by_role("link", name=re.compile("Remove filter Country")).click()
    expect(page.locator("tbody tr")).to_have_count(12)

    page.get_by_role("link", name="Status").click()
    expect(page).to_have_url(re.compile(r"sort=status"))
    expect(page.locator("th.col-status")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("tbody tr").first.locator(".badge")).to_have_text("Porting in progress")
