"""An operator creates a business identity from the Registration link: a bad field is refused under
it, then the identity is created; an address added on its page shows there."""
import os

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there to be looked at


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_create_a_business_identity_and_add_an_address(live_app, live, page, first_admin):
    first_admin()
    page.goto(live + "/numbers")
    page.get_by_role("link", name="Registration").first.click()
    expect(page.get_by_role("heading", name="Identities")).to_be_visible()
    _shot(page, "identities")

    page.get_by_role("button", name="New identity").click()
    page.get_by_label("Type").select_option("business")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Phone number").fill("030 1234567")
    page.locator("#country").select_option("DE")
    page.get_by_label("Company name").fill("Acme GmbH")
    page.get_by_label("Contact email").fill("not an email")
    page.get_by_role("button", name="Create identity").click()
    expect(page.locator("#contact_email-error")).to_have_text("Enter a valid email address.")
    page.get_by_label("Contact email").fill("ops@acme.example")
    page.get_by_role("button", name="Create identity").click()
    expect(page.get_by_text("Identity Acme GmbH created.")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("identity.created")

    addresses = page.locator("#addresses")
    page.locator("#address-street").fill("Hauptstr. 1")
    page.locator("#address-city").fill("Berlin")
    page.locator("#address-postal_code").fill("10115")
    page.locator("#address-country").select_option("DE")
    addresses.get_by_role("button", name="Add address").click()
    expect(page.get_by_text("Address added.")).to_be_visible()
    expect(page.locator("#addresses")).to_contain_text("Hauptstr. 1, Berlin, 10115, DE")
    expect(page.locator("#verified")).to_have_text("Not verified")
    _shot(page, "identity")

    page.get_by_role("link", name="← Identities").click()
    expect(page.locator("#identity-list tbody tr")).to_have_count(1)
    expect(page.locator("#identity-list")).to_contain_text("Acme GmbH")
    _shot(page, "identities_one")
