"""An admin creates a profile and a rule, then asks the Test box which rule a number would get."""
import re

import pytest
from playwright.sync_api import expect

from tests import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def test_profile_rule_and_the_test_box(live_app, live, page):
    with live_app.app_context():
        f.make_voice_trunk(name="sip-sf")

    # first run creates the admin (US is the default country for numbers typed without +1)
    page.goto(live + "/setup")
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and open My Numbers").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()

    # a profile: the form refuses an empty one, next to nothing but the form
    page.get_by_role("link", name="Profiles & rules").click()
    page.get_by_role("button", name="New profile").click()
    page.get_by_label("Name").fill("SF office")
    page.get_by_role("button", name="Create profile").click()
    expect(page.get_by_role("alert")).to_have_text("A profile must set at least one field.")
    page.get_by_label("Voice route").select_option(label="sip-sf")
    page.get_by_label("Capacity limit").fill("8")
    page.get_by_role("button", name="Create profile").click()
    expect(page.get_by_text("Profile SF office created.")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("SF office"))
    expect(row).to_contain_text("sip-sf")
    expect(row).to_contain_text("none")  # no rule uses it yet

    # a city rule; regions and cities need exactly one country, shown under the field
    page.get_by_role("link", name="Rules", exact=True).click()
    page.get_by_role("button", name="New rule").click()
    page.get_by_label("Name").fill("San Francisco")
    page.get_by_label("Profile").select_option(label="SF office")
    page.get_by_label("Cities").fill("san francisco")
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator("#cities-error")).to_have_text("Regions and cities need exactly one country.")
    page.get_by_label("Countries").fill("us")
    page.get_by_label("Local").check()
    page.get_by_role("button", name="Create rule").click()
    expect(page.get_by_text("Rule San Francisco created.")).to_be_visible()
    # the redirect is a full page and htmx (deferred) binds only once it has loaded: a Test sent before
    # then is a plain GET (a reload), and the Filter after it would leave the number out of the URL
    page.wait_for_load_state()
    rule_row = page.locator("#rule-list tbody tr")
    expect(rule_row).to_have_count(1)
    expect(rule_row).to_contain_text("City")
    expect(rule_row).to_contain_text("US")

    # the Test box answers in place (htmx) and puts the number in the URL
    page.get_by_label("Number", exact=True).fill("(415) 555-2671")
    page.get_by_role("button", name="Test", exact=True).click()
    result = page.locator("#rule-test-result")
    expect(result).to_contain_text("Rule San Francisco (city level) applies profile SF office")
    expect(result).to_contain_text("sip-sf")
    expect(result).to_contain_text("Capacity limit")
    expect(page).to_have_url(re.compile(r"number=(\(|%28)415"))
    page.get_by_label("Number", exact=True).fill("+44 20 7183 8750")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(result).to_contain_text("No rule matches.")
    expect(result).to_contain_text("United Kingdom (GB)")

    # the filters keep the tested number and narrow the list
    page.get_by_label("Name contains").fill("nothing like it")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#rule-list")).to_contain_text("No rules match these filters.")
    expect(page).to_have_url(re.compile(r"number=(\+|%2B)44"))
