"""A second flow requests CNAM OUT and gets it approved (issue 10, "Done means"): on a number's
details page Request CNAM OUT → a refused name shows its message under the field → a good one →
the Services section shows Pending and readiness A1 ⏳ → the admin follows A1's Review to the
Service requests page → Approve (inline) → the details page shows Active and A1 is gone."""
import os

import pytest
from playwright.sync_api import expect

from did_app.db import db
from tests import factories as f

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there, wide and narrow, to be looked at


def _shot(page, name: str) -> None:
    if SHOTS:
        for width in (1400, 400):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=os.path.join(SHOTS, f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 720})


def test_request_cnam_out_and_get_it_approved(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        f.make_identity(identity_type="business", first_name="Ada", last_name="Lovelace", company_name="Acme Inc")
        f.make_number(number="+14155550142", features=("voice_in", "cnam_out", "emergency"))
        db.session.remove()
    page.goto(live + "/numbers/14155550142")
    services = page.locator("#services")
    expect(services).to_contain_text("Not requested.")
    services.get_by_role("link", name="Request CNAM OUT").click()
    expect(page.get_by_role("heading", name="Services of")).to_be_visible()
    cnam = page.locator("#cnam_out")
    cnam.get_by_label("Caller name (CNAM)").fill("ACME!")
    expect(cnam.get_by_label("Identity")).to_have_value(
        cnam.get_by_label("Identity").locator("option", has_text="Acme Inc").get_attribute("value"))
    cnam.get_by_role("button", name="Request CNAM OUT").click()
    expect(page.locator("#cnam_out-value-error")).to_have_text("CNAM must be 1–15 letters, digits, spaces or . , - ' &.")
    _shot(page, "number_services")

    page.locator("#cnam_out").get_by_label("Caller name (CNAM)").fill("ACME INC")
    page.locator("#cnam_out").get_by_role("button", name="Request CNAM OUT").click()
    expect(page.get_by_text("CNAM OUT requested for +14155550142.")).to_be_visible()
    expect(page.locator("#service-cnam_out")).to_contain_text("ACME INC")
    expect(page.locator("#service-cnam_out")).to_contain_text("Pending")
    attention = page.locator("#readiness .attention")
    expect(attention).to_contain_text("CNAM OUT pending approval")
    expect(attention.locator(".check-mark")).to_have_text("⏳")
    _shot(page, "number_detail_services")

    attention.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="Service requests")).to_be_visible()
    # a full page: htmx (deferred) binds only once it has loaded; an Approve before then is a plain post
    # (a reload), not the inline one
    page.wait_for_load_state()
    row = page.locator("#service-list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("ACME INC")
    _shot(page, "service_requests")
    row.get_by_role("button", name="Approve").click()
    expect(page.locator("#flash")).to_contain_text("Service request approved.")
    expect(row).to_contain_text("Active")
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    _shot(page, "service_requests_approved")

    row.get_by_role("link", name="+1 415-555-0142").click()
    expect(page.locator("#service-cnam_out")).to_contain_text("Active")
    expect(page.locator("#readiness")).not_to_contain_text("pending approval")
    expect(page.locator("#readiness .attention")).to_have_count(0)
