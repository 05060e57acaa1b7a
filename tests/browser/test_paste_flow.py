"""Paste-a-list as a user would do it (numbers.md §7.6, issue 8 §6): a list with a tel: entry, a
column heading and a spaced number that is one digit short stays a number search, and the report
names each entry that is not a number, as typed."""
import re

import pytest
from playwright.sync_api import expect

from tests import factories as f

pytestmark = pytest.mark.browser


def test_a_pasted_list_with_a_tel_entry_a_heading_and_a_spaced_number_is_reported(live_app, live, page, first_admin):
    with live_app.app_context():
        for i in range(4):
            f.make_number(number=f"+1415555{1000 + i}", description=f"Sales line {i}")
    first_admin()
    expect(page.locator("tbody tr")).to_have_count(4)

    pasted = "Number\ntel:+1 415 555 1000\n(415) 555-1001\n+1 512 240 772\n+14155559999"
    page.get_by_label("Search numbers or descriptions").fill(pasted)
    page.get_by_role("button", name="Search", exact=True).click()

    report = page.get_by_label("Search report")
    expect(report).to_contain_text("Searched 5 numbers: 2 found.")
    expect(report).to_contain_text("1 not in the inventory: +1 415-555-9999")
    expect(report).to_contain_text("2 not recognised: Number, +1 512 240 772")
    expect(report.locator("code")).to_have_text(["Number", "+1 512 240 772"])
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).to_contain_text("+1 415-555-1000")
    expect(page.locator("tbody")).to_contain_text("+1 415-555-1001")
    expect(page).to_have_url(re.compile(r"q=Number"))
    page.screenshot(path="/work/notes/paste.png", full_page=True)

    # a list typed with words only is still a description search
    page.get_by_label("Search numbers or descriptions").fill("sales line 2")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_label("Search report")).to_have_count(0)
    expect(page.locator("tbody tr")).to_have_count(1)
