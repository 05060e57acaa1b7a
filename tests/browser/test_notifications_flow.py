"""Notifications in a real browser (lifecycle.md §12 "In-app"): the bell shows the unread count,
opening a notification leads to exactly its numbers, mark read and mark all read update the bell
without a reload; the profile shows the digest opt-in and the calendar address."""
import os
import re

import pytest
from playwright.sync_api import expect

from did_app.db import db, write_transaction
from did_app.notifications.service import notify
from tests import factories as f

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


def _seed(live_app) -> tuple[list[str], list[str]]:
    with live_app.app_context():
        numbers = [f.make_number(description=f"line {i}").number for i in range(6)]
        with write_transaction() as session:
            notify(session, "number_released", numbers[4:], "2 numbers were released (expired).")
            notify(session, "expiring_no_renewal", numbers[2:4], "2 numbers expire on 5 Dec 2026 and will not renew.")
            notify(session, "renewal_failed", numbers[:2], "2 numbers expired: the balance was short.")
        db.session.remove()
    return numbers[:2], numbers[2:]


def test_bell_open_mark_read_and_mark_all_read(live_app, live, page, first_admin):
    first_admin()
    theirs, others = _seed(live_app)
    page.reload()
    bell = page.locator("#bell a")
    expect(bell).to_have_attribute("aria-label", "3 unread notifications")
    expect(bell).to_have_text("3")
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.locator("header.topbar").screenshot(path=f"{SHOTS}/bell-header.png")

    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    rows = page.locator("table.notifications tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("the balance was short")  # newest first
    _shoot(page, "notifications")

    # opening a notification leads to exactly its numbers, and reads it
    rows.first.get_by_role("link", name="Show the 2 numbers").click()
    expect(page).to_have_url(re.compile(r"/numbers\?list=[A-Za-z0-9_-]+$"))
    table_rows = page.locator("tr[id^='number-']")
    expect(table_rows).to_have_count(2)
    digits = [n[1:] for n in theirs]
    body = page.locator("main").inner_text()
    shown = re.sub(r"\D", "", body)
    assert all(d in shown for d in digits) and not any(n[1:] in shown for n in others)
    expect(page.locator("#bell a")).to_have_attribute("aria-label", "2 unread notifications")

    # mark read: the row and the bell change in place
    page.locator("#bell a").click()
    unread = page.locator("table.notifications tbody tr.unread")
    expect(unread).to_have_count(2)
    # a full page: htmx (deferred) binds only once it has loaded; a Mark read before then is a plain post
    # (a reload), and "in place" would not be what is tested
    page.wait_for_load_state()
    unread.first.get_by_role("button", name="Mark read").click()
    expect(unread).to_have_count(1)
    expect(page.locator("#bell a")).to_have_attribute("aria-label", "1 unread notification")

    # a filter swap of the table keeps the bell right
    page.get_by_label("Kind").select_option("number_released")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"kind=number_released"))
    expect(page.locator("table.notifications tbody tr")).to_have_count(1)
    expect(page.locator("#bell a")).to_have_attribute("aria-label", "1 unread notification")

    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#bell a")).to_have_attribute("aria-label", "No unread notifications")
    expect(page.locator("#bell b")).to_have_count(0)
    expect(page.locator("table.notifications tbody tr.unread")).to_have_count(0)
    page.reload()
    expect(page.locator("#bell a")).to_have_attribute("aria-label", "No unread notifications")


def test_profile_digest_and_calendar(live_app, live, page, first_admin):
    first_admin()
    page.get_by_role("link", name="Account").click()
    box = page.get_by_label("Send me the daily email digest")
    expect(box).to_be_checked()  # an admin: on by default
    address = page.get_by_label("Calendar feed address")
    old = address.input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/calendar/[A-Za-z0-9_-]{32}\.ics", old), old
    _shoot(page, "profile")
    box.uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("You will get no email digest.")).to_be_visible()
    expect(page.get_by_label("Send me the daily email digest")).not_to_be_checked()
    page.get_by_role("button", name="Reset link").click()
    expect(page.get_by_text("The calendar link was reset")).to_be_visible()
    new = page.get_by_label("Calendar feed address").input_value()
    assert new != old
    assert page.request.get(live + old.removeprefix("http://127.0.0.1:5000")).status == 404
    feed = page.request.get(live + new.removeprefix("http://127.0.0.1:5000"))
    assert feed.status == 200 and feed.headers["content-type"] == "text/calendar; charset=utf-8"
