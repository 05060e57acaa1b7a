"""An admin adds a (DE, local) requirement that needs registration; adding a German local number
then says so in the preview, before anything is charged; the (*, *) row refuses to be deleted."""
import os
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import Workspace

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there to be looked at


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_a_requirement_drives_the_add_preview_and_the_fallback_stays(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        db.session.scalar(sa.select(Workspace)).balance_minor = 100_00
        db.session.commit()

    # the requirements page, from the settings, shows the lookup order and the seeded rows
    page.goto(live + "/settings")
    page.get_by_role("link", name="Registration requirements").click()
    expect(page.get_by_role("heading", name="Registration requirements")).to_be_visible()
    expect(page.locator("#lookup-order")).to_contain_text(
        "For a number, the first row that exists wins: (country, type) → (country, *) → (*, type) → (*, *).")
    expect(page.locator("#requirement-list tbody tr")).to_have_count(3)

    # a new row: a refusal stays under its field, then the row is created
    page.get_by_role("button", name="New requirement").click()
    page.get_by_label("Country", exact=True).fill("DE")
    page.get_by_label("Number type").select_option("local")
    page.get_by_label("Registration required").check()
    page.get_by_label("Personal proofs").fill("7")
    page.get_by_role("button", name="Create requirement").click()
    expect(page.locator("#personal_proofs-error")).to_have_text("Enter 0–5 proofs.")
    page.get_by_label("Personal proofs").fill("1")
    page.get_by_label("Passport").check()
    page.get_by_label("Restriction message").fill("Numbers may not be used for call centres")
    page.get_by_role("button", name="Create requirement").click()
    expect(page.get_by_text("Requirement (DE, local) created.")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("requirement.created")
    _shot(page, "requirement")

    # the list filters by country in place
    page.get_by_role("link", name="← Requirements").click()
    expect(page.get_by_role("heading", name="Registration requirements")).to_be_visible()
    # a full page: htmx (deferred) binds only once it has loaded; a Filter before then is a plain GET
    page.wait_for_load_state()
    page.get_by_label("Country", exact=True).fill("DE")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"country=DE"))
    expect(page.locator("#requirement-list tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("#requirement-list tbody tr")).to_have_count(4)
    _shot(page, "requirements")

    # adding a German local number: the preview says it needs end-user details, and by when
    page.goto(live + "/numbers/add")
    page.get_by_label("Number", exact=True).fill("+49 30 12345678")
    page.get_by_label("Monthly price").fill("1.50")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#registration-sentence")).to_have_text(
        "1 of these numbers need end-user details by 28 Dec 2026.")
    _shot(page, "add_preview")

    # the (*, *) row can be edited but not deleted: the refusal shows next to the button
    page.goto(live + "/registration/requirements")
    page.get_by_role("link", name="(*, *)").click()
    expect(page.get_by_role("heading", name="(*, *)")).to_be_visible()
    page.wait_for_load_state()  # else the delete is a plain post: no confirm, no refusal in place
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete requirement").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The (*, *) requirement is the fallback for every number: it can be edited but not deleted.")
    expect(page.get_by_role("heading", name="(*, *)")).to_be_visible()
    _shot(page, "fallback_refused")
