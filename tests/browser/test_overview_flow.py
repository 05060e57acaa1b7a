"""The Overview page in a real browser (issue 12 §6), as a new user on demo data: it is the first
item of the navigation, and each figure it shows leads to exactly that many numbers: a status count,
a blocker count, a week's bar and a won't-renew segment of the timeline."""
import os
import re

import pytest
from playwright.sync_api import expect

from did_app import demo
from did_app.db import db

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there to be looked at
_OF = re.compile(r"of ([\d,]+)")


def _shoot(page, name):
    if not SHOTS:
        return
    os.makedirs(SHOTS, exist_ok=True)
    for width in (1400, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})


def _shown(text: str) -> int:
    return int(text.replace(",", ""))


def _numbers_total(page) -> int:
    """The count the /numbers page reports for its filter: "1–50 of N" under the table."""
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()
    table = page.locator("#numbers-table")
    total = int(table.get_attribute("data-total"))
    if total:
        assert _shown(_OF.search(page.locator("nav .range").first.inner_text()).group(1)) == total
    return total


def _open_overview(page):
    first_item = page.locator("header nav a:not(.brand)").first  # the brand is the workspace's name
    expect(first_item).to_have_text("Overview")
    first_item.click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()


def test_each_overview_figure_leads_to_that_many_numbers(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        demo.seed_demo(400, 5)
        db.session.remove()
    page.reload()
    _open_overview(page)
    _shoot(page, "overview")

    # a status count
    status = page.locator("#status-counts a[href*='status=not_configured']")
    shown = _shown(status.locator("strong").inner_text())
    assert shown > 0 and shown == int(status.get_attribute("data-count"))
    status.click()
    expect(page).to_have_url(re.compile(r"/numbers\?status=not_configured$"))
    assert _numbers_total(page) == shown

    # a readiness blocker count
    _open_overview(page)
    counted = [a for a in page.locator("#blocker-counts a").all() if int(a.get_attribute("data-count"))]
    assert counted, "the demo data has numbers stopping at some readiness step"
    blocker = counted[0]
    key, shown = blocker.get_attribute("data-blocker"), _shown(blocker.locator("strong").inner_text())
    blocker.click()
    expect(page).to_have_url(re.compile(rf"/numbers\?blocker={key}$"))
    assert _numbers_total(page) == shown

    # a week's bar: its title says how many numbers it opens
    _open_overview(page)
    bar = page.locator("a.seg[data-segment='will_renew']").first
    title = bar.locator("title").text_content()
    shown = _shown(re.search(r"opens the week's ([\d,]+) numbers", title).group(1))
    assert shown == int(bar.get_attribute("data-count")) > 0
    bar.click()
    expect(page).to_have_url(re.compile(r"/numbers\?.*expires_from=.*expires_to="))
    assert _numbers_total(page) == shown

    # a won't-renew segment: its label says how many numbers won't renew that week
    _open_overview(page)
    segment = page.locator("a.seg[data-segment='wont_renew']").first
    shown = _shown(re.search(r": ([\d,]+) won't renew", segment.get_attribute("aria-label")).group(1))
    assert shown == int(segment.get_attribute("data-count")) > 0
    segment.click()
    expect(page).to_have_url(re.compile(r"/numbers\?status=expiring_soon&expires_from="))
    assert _numbers_total(page) == shown
