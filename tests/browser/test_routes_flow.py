"""Trunks in a real browser: create a SIP trunk, reorder its codecs, put it in a group, and follow
the group's number count to the filtered workspace (configuration.md §2–§3, §7)."""
import re

import pytest
from playwright.sync_api import expect

from tests import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def test_create_a_sip_trunk_and_a_group_and_follow_the_count_link(live_app, live, page):
    page.goto(live + "/configuration/trunks")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and open My Numbers").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()

    # the nav leads to the trunk list, which starts empty
    page.get_by_role("link", name="Trunks", exact=True).click()
    expect(page.get_by_role("heading", name="Trunks", exact=True)).to_be_visible()
    expect(page.get_by_text("No trunks yet.")).to_be_visible()

    # a SIP trunk with its defaults; the codec arrows reorder in place (htmx), nothing is saved yet
    page.get_by_role("link", name="New SIP trunk").click()
    expect(page.get_by_label("Port", exact=True)).to_have_value("5060")
    expect(page.get_by_label("Username", exact=True)).to_have_value("{DID}")
    # a full page: htmx (deferred) binds only once it has loaded; a codec move before then is a plain
    # submit (a reload), and the media encryption pick right after it would send nothing (no hint)
    page.wait_for_load_state()
    page.get_by_label("Name", exact=True).fill("Main PBX")
    page.get_by_label("Host", exact=True).fill("pbx.example.com")
    page.get_by_role("button", name="Move PCMA up").click()
    expect(page.locator("#codecs li").first).to_contain_text("PCMA")
    expect(page.get_by_role("button", name="Move PCMA down")).to_be_focused()
    page.get_by_label("Media encryption").select_option("srtp_sdes")
    expect(page.get_by_text("SDES keys travel in clear SIP; prefer TLS.")).to_be_visible()
    page.get_by_role("button", name="Create trunk").click()
    expect(page.get_by_text("Trunk Main PBX created.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Main PBX")

    # a group holding it: the group page shows the try order
    page.get_by_role("link", name="← Trunks").click()
    page.get_by_role("link", name="New trunk group").click()
    page.get_by_label("Name", exact=True).fill("Hunt group")
    page.get_by_role("checkbox", name=re.compile(r"^Main PBX")).check()
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_text("Trunk group Hunt group created.")).to_be_visible()
    members = page.locator("#members tbody tr")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text("Main PBX")
    expect(members.first).to_contain_text("100%")
    group_id = int(re.search(r"/groups/(\d+)", page.url).group(1))

    # numbers routed to the group show up as a count that links to the filtered workspace
    with live_app.app_context():
        f.make_number(number="+14155550101", voice_route_id=group_id)
        f.make_number(number="+14155550102", voice_route_id=group_id)
    page.get_by_role("link", name="← Trunks").click()
    trunk_row = page.locator("tbody tr", has_text="Main PBX")
    expect(trunk_row).to_contain_text("0 direct · 2 via group")
    group_row = page.locator("tbody tr", has_text="Hunt group").last
    count_link = group_row.get_by_role("link", name=re.compile(r"^2 numbers"))
    expect(count_link).to_have_attribute("href", f"/numbers?voice_route={group_id}")
    count_link.click()
    expect(page).to_have_url(re.compile(rf"/numbers\?voice_route={group_id}$"))
    expect(page.locator("tbody tr")).to_have_count(2)

    # the last trunk of a group in use can't be deleted: the confirmed delete shows why, in place
    page.go_back()
    page.get_by_role("link", name="Main PBX").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Main PBX")
    page.wait_for_load_state()  # else the delete is a plain post: no confirm, the refusal on a new page
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete trunk").click()
    expect(page.locator("#delete-result")).to_contain_text(
        "Trunk Main PBX is the last trunk in group Hunt group, which routes 2 numbers.")
    expect(page.locator("#delete-result").get_by_role("link", name="Show the numbers")).to_have_attribute(
        "href", f"/numbers?voice_route={group_id}")
