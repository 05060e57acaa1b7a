"""The My Numbers selection in Debian's chromium (batch.md §1): ticks, ranges, paging, all matching,
the selection bar from the keyboard, the batch dialog (also for a selection too long for a URL) and the
row ⋯ menu."""
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import factories as f

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("SHOTS_DIR", "/tmp/h11-select-shots"))


def _inventory(app, count=60):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        return [f.make_number(number=f"+1415555{1000 + i}", voice_route_id=trunk.id if i % 3 else None,
                              description=f"Line {i}").id for i in range(count)]


def _box(page, index):
    return page.locator("#numbers-table tbody td:first-child input").nth(index)


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_select_page_all_matching_and_the_bar(live_app, live, page, first_admin):
    ids = _inventory(live_app)
    first_admin()
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(live + "/numbers?sort=number&per_page=25")
    bar, banner = page.locator("#batch-bar"), page.locator("#selection-banner")
    expect(bar).to_be_hidden()

    # two ticks, then a shift-click range from the 5th to the 8th row
    _box(page, 0).check()
    _box(page, 1).check()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("2 selected")
    _box(page, 4).click()
    _box(page, 7).click(modifiers=["Shift"])
    expect(bar).to_contain_text("6 selected")
    for i in (0, 1, 4, 5, 6, 7):
        expect(_box(page, i)).to_be_checked()
    expect(_box(page, 2)).not_to_be_checked()
    expect(page.get_by_label("Select +1 415-555-1000")).to_be_checked()

    # page forward and back: the ticks are kept for the tab
    page.get_by_role("link", name="Next ›").click()
    expect(page.locator(".pager .range")).to_have_text("26–50 of 60")
    expect(page.locator("#numbers-table tbody td:first-child input:checked")).to_have_count(0)
    expect(bar).to_contain_text("6 selected")
    page.get_by_role("link", name="‹ Previous").click()
    expect(page.locator(".pager .range")).to_have_text("1–25 of 60")
    expect(page.locator("#numbers-table tbody td:first-child input:checked")).to_have_count(6)
    expect(bar).to_contain_text("6 selected")

    # the page box, then every number matching the filter
    page.get_by_label("Select every row on this page").check()
    expect(banner).to_have_text("All 25 on this page are selected. Select all 60 matching this filter.")
    expect(bar).to_contain_text("25 selected")
    _shot(page, "banner-page-wide")
    page.get_by_role("button", name="Select all 60 matching this filter").click()
    expect(banner).to_have_text("All 60 matching numbers are selected. Clear selection.")
    expect(bar).to_contain_text("60 selected")
    renew = bar.locator("a[data-batch-action=renew]")  # inside the closed menu
    expect(renew).to_have_attribute("href", re.compile(r"/batches/new\?action=renew&filter=sort%3Dnumber%26per_page%3D25$"))
    _shot(page, "banner-all-matching-wide")

    # unticking one row returns to rows picked one by one, keeping the page's others
    _box(page, 2).uncheck()
    expect(bar).to_contain_text("24 selected")
    expect(banner).to_be_hidden()
    expect(page.get_by_label("Select every row on this page")).not_to_be_checked()
    expect(renew).to_have_attribute("href", re.compile(r"action=renew&ids=(\d+,){23}\d+$"))
    export = bar.locator("a[data-batch-action=export]")
    expect(export).to_have_attribute("href", re.compile(r"/numbers/export\.csv\?ids=(\d+,){23}\d+&sort=number$"))

    # keyboard: Tab from Clear to the menu, Enter opens it, Escape closes it
    bar.get_by_role("button", name="Clear").focus()
    page.keyboard.press("Tab")
    summary = bar.locator("summary")
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(bar.get_by_role("link", name="Apply configuration profile…")).to_be_visible()
    expect(bar.locator("details li")).to_have_count(15)
    _shot(page, "bar-menu-wide")
    page.keyboard.press("Escape")
    expect(bar.get_by_role("link", name="Apply configuration profile…")).to_be_hidden()
    expect(summary).to_be_focused()

    # an action opens the batch dialog with the selection
    summary.click()
    bar.get_by_role("link", name="Apply configuration profile…").click()
    dialog = page.locator("#batch-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("24 numbers selected")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # the row menu: one number's actions; the dialog gets that one number
    row = page.locator(f"#number-{ids[3]}")
    row.get_by_label("Actions for +1 415-555-1003").click()
    expect(row.locator(".row-menu li")).to_have_count(6)  # details, renew, profile, next mode, cancel, history
    _shot(page, "row-menu-wide")
    profile = row.get_by_role("link", name="Apply configuration profile…")
    expect(profile).to_have_attribute("href", re.compile(rf"/batches/new\?action=apply_profile&ids={ids[3]}$"))
    profile.click()
    expect(dialog).to_contain_text("1 number selected")
    page.keyboard.press("Escape")

    # when the fragment fails, the same URL opens as a full page
    page.route("**/batches/new?*", lambda route: route.fulfill(status=503, body="busy")
               if route.request.headers.get("hx-request") else route.continue_())
    row.get_by_label("Actions for +1 415-555-1003").click()
    profile.click()
    expect(page).to_have_url(re.compile(rf"/batches/new\?action=apply_profile&ids={ids[3]}$"))
    expect(page.locator("main")).to_contain_text("1 number selected")
    page.unroute("**/batches/new?*")

    # back on the table, the tab still holds the selection; a narrow screen shows the same bar
    page.set_viewport_size({"width": 400, "height": 800})
    page.goto(live + "/numbers?sort=number&per_page=25")
    expect(bar).to_contain_text("24 selected")
    bar.locator("summary").click()
    _shot(page, "bar-menu-narrow")
    page.keyboard.press("Escape")
    page.locator(f"#number-{ids[0]}").get_by_label("Actions for +1 415-555-1000").click()
    _shot(page, "row-menu-narrow")
    page.keyboard.press("Escape")


def test_filter_mode_ends_when_the_filter_changes(live_app, live, page, first_admin):
    _inventory(live_app, count=30)
    first_admin()
    page.goto(live + "/numbers?per_page=25")
    bar, banner = page.locator("#batch-bar"), page.locator("#selection-banner")
    page.get_by_label("Select every row on this page").check()
    page.get_by_role("button", name="Select all 30 matching this filter").click()
    expect(bar).to_contain_text("30 selected")
    # sorting keeps the set (same filter) ...
    page.locator("thead").get_by_role("link", name=re.compile("Number")).click()
    expect(page).to_have_url(re.compile(r"sort=number"))
    expect(bar).to_contain_text("30 selected")
    # ... another filter clears it
    page.get_by_role("button", name=re.compile(r"^Not configured")).click()
    expect(page).to_have_url(re.compile(r"status=not_configured"))
    expect(bar).to_be_hidden()
    expect(banner).to_be_hidden()
    expect(page.locator("#numbers-table tbody td:first-child input:checked")).to_have_count(0)

    # a row an inline edit re-renders is ticked again
    _box(page, 0).check()
    row = page.locator("#numbers-table tbody tr").first
    row.get_by_role("button", name=re.compile("^Edit description of")).click()
    row.get_by_label(re.compile("^Description of")).fill("Picked and edited")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".col-description")).to_contain_text("Picked and edited")
    expect(_box(page, 0)).to_be_checked()
    expect(bar).to_contain_text("1 selected")

    # the 10,000 limit is a message, not a silent cut (pretend 9,995 are already picked)
    page.evaluate("""() => sessionStorage.setItem('did.numbers.selection', JSON.stringify(
        {mode: 'ids', ids: Array.from({length: 9995}, (_, i) => 1000000 + i), filter: '', filterKey: '', total: 0}))""")
    page.goto(live + "/numbers?per_page=25")
    expect(bar).to_contain_text("9,995 selected")
    page.get_by_label("Select every row on this page").click()
    expect(page.get_by_label("Select every row on this page")).not_to_be_checked()
    expect(banner).to_have_text("Select at most 10,000 rows one by one; use 'Select all matching' for more.")
    expect(bar).to_contain_text("9,995 selected")


def test_a_long_selection_opens_the_dialog_by_post(live_app, live, page, first_admin):
    """700 rows picked one by one make a URL of ~5 KB, past the request-line limit: the dialog is
    asked for with a form body instead, and shows every one of them."""
    ids = _inventory(live_app, count=700)
    first_admin()
    page.goto(live + "/numbers?sort=number")
    page.evaluate("""ids => sessionStorage.setItem("did.numbers.selection",
        JSON.stringify({mode: "ids", ids: ids, filter: "", filterKey: "", total: 0}))""", ids)
    page.reload()
    bar = page.locator("#batch-bar")
    expect(bar).to_contain_text("700 selected")
    with page.expect_request(lambda r: r.url.endswith("/batches/new") and r.method == "POST"):
        bar.locator("summary").click()
        bar.get_by_role("link", name="Update description…").click()
    expect(page.locator("#batch-dialog")).to_contain_text("700 numbers selected")
