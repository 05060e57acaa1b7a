"""Configuring numbers in the browser: inline cells, readiness fixes, 422 and 409."""
import re

import pytest
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import Number
from tests import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def _login(page, live):
    page.goto(live + "/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()
    # the redirect is a full page and htmx (deferred) binds only once it has loaded: the cells' "Edit"
    # buttons are hx-get alone (no form to fall back on), so a click before then does nothing
    page.wait_for_load_state()


def _data(app):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        f.make_number(number="+14155550001", voice_route_id=trunk.id)  # already active
        pool = f.make_pool(countries=("US",), name="US pool")
        f.make_capacity_group(pool=pool, shared=4, name="US shared")
        f.make_sms_trunk(name="crm-webhook")
        return {
            "plain": f.make_number(number="+14155550002").id,
            "zero": f.make_number(number="+14155550003", capacity_mode="zero_included", channels_included=0).id,
            "sms": f.make_number(number="+14155550004", features=("sms_in",)).id,
        }


def _active_count(page):
    return page.get_by_role("button", name=re.compile(r"^Active")).locator(".count")


def test_configure_numbers_inline_and_from_the_checklist(live_app, live, page, first_admin):
    ids = _data(live_app)
    first_admin()
    expect(_active_count(page)).to_have_text("1")

    # assign a trunk inline: the row turns Active and the count goes up without a reload
    page.get_by_role("button", name="Edit voice route of +1 415-555-0002").click()
    row = page.locator(f"#number-{ids['plain']}")
    row.get_by_label(re.compile("^Voice route of")).select_option(label="sip-main")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".badge")).to_have_text("Active")
    expect(_active_count(page)).to_have_text("2")
    expect(page.locator("#flash")).to_contain_text("Saved.")

    # a number without capacity: trunk inline, then a capacity group from the checklist
    page.get_by_role("button", name="Edit voice route of +1 415-555-0003").click()
    row = page.locator(f"#number-{ids['zero']}")
    row.get_by_label(re.compile("^Voice route of")).select_option(label="sip-main")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".badge")).to_have_text("Not configured")
    row.get_by_role("link", name="+1 415-555-0003").click()
    readiness = page.locator("#readiness")
    expect(readiness).to_contain_text("No inbound capacity")
    page.wait_for_load_state()  # a full page again: the fix below is htmx (a plain post before then)
    readiness.get_by_label("Capacity group").select_option(label="US shared")  # no US habit: "Choose…"
    readiness.get_by_role("button", name="Add to capacity group…").click()
    expect(page.locator("#number-header .badge")).to_have_text("Active")
    expect(readiness).to_contain_text("Inbound calling ready")
    page.goto(live + "/numbers")
    expect(_active_count(page)).to_have_text("3")

    # the SMS route likewise
    page.get_by_role("button", name="Edit SMS route of +1 415-555-0004").click()
    row = page.locator(f"#number-{ids['sms']}")
    row.get_by_label(re.compile("^SMS route of")).select_option(label="crm-webhook")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".badge")).to_have_text("Active")
    expect(_active_count(page)).to_have_text("4")


def test_an_invalid_limit_shows_its_message_and_writes_nothing(live_app, live, page, first_admin):
    ids = _data(live_app)
    first_admin()
    page.get_by_role("button", name="Edit capacity limit of +1 415-555-0002").click()
    cell = page.locator(f"#number-{ids['plain']}-capacity_limit")
    cell.get_by_label(re.compile("^Capacity limit of")).fill("40000")
    cell.get_by_label(re.compile("^Capacity limit of")).press("Enter")
    expect(cell.locator(".field-error")).to_have_text(
        "Enter a whole number from 1 to 32,767, or leave blank for no limit.")
    expect(cell.get_by_label(re.compile("^Capacity limit of"))).to_have_attribute("aria-invalid", "true")
    cell.get_by_label(re.compile("^Capacity limit of")).press("Escape")
    expect(page.get_by_role("button", name="Edit capacity limit of +1 415-555-0002")).to_be_visible()
    expect(page.locator(f"#number-{ids['plain']}")).to_have_count(1)  # the row came back whole,
    expect(page.locator(f"#number-{ids['plain']} tr")).to_have_count(0)  # not a row inside a cell
    with live_app.app_context():
        n = db.session.get(Number, ids["plain"])
        assert n.capacity_limit is None and n.version == 1


def test_two_browsers_editing_the_same_row(live_app, live, page, browser, first_admin):
    ids = _data(live_app)
    first_admin()
    other = browser.new_context().new_page()
    _login(other, live)
    for p in (page, other):
        p.get_by_role("button", name="Edit description of +1 415-555-0002").click()
    first = page.locator(f"#number-{ids['plain']}")
    first.get_by_label(re.compile("^Description of")).fill("Sales")
    first.get_by_role("button", name="Save").click()
    expect(first.locator(".col-description")).to_contain_text("Sales")
    second = other.locator(f"#number-{ids['plain']}")
    second.get_by_label(re.compile("^Description of")).fill("Support")
    second.get_by_role("button", name="Save").click()
    expect(second).to_contain_text("Your edit was not saved.")
    expect(second).to_contain_text(re.compile(r"Changed by Ada Admin at .*"))
    expect(second.locator(".col-description")).to_contain_text("Sales")
    other.context.close()
