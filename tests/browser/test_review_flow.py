"""An admin opens the Verification requests from the navigation's count, rejects one request with
a reason (a reason-less reject is refused under the field first) and sees it on the page without
a reload, then approves another, whose number leaves Awaiting registration."""
import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from did_app import clock
from did_app.db import db
from tests.factories import make_identity, make_number, make_verification_request

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there to be looked at


def _shot(page, name: str) -> None:
    if SHOTS:
        for width in (1400, 400):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=os.path.join(SHOTS, f"{name}_{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 900})


def _requests(live_app):
    """Two pending requests, each with one awaiting number (the assignment flow is another page's)."""
    with live_app.app_context():
        out = []
        for name in ("Acme GmbH", "Globex SARL"):
            identity = make_identity(identity_type="business", company_name=name, country="US")
            vr = make_verification_request(identity=identity)
            number = make_number(needs_registration=True, awaiting_registration=True, identity_id=identity.id,
                                 verification_request_id=vr.id,
                                 registration_deadline_at=clock.now() + timedelta(days=2))
            out.append((vr.reference, vr.id, number.number))
        db.session.remove()
        return out


def test_admin_rejects_one_request_and_approves_another(live_app, live, page, first_admin):
    first_admin()
    (ref_a, id_a, number_a), (ref_b, id_b, number_b) = _requests(live_app)
    page.goto(live + "/numbers")
    count = page.locator("#review-count")
    expect(count).to_contain_text("2")
    count.click()
    expect(page.get_by_role("heading", name="Verification requests")).to_be_visible()
    _shot(page, "review_requests")

    page.get_by_role("link", name=ref_a).click()
    expect(page.locator("#request-status")).to_have_text("In review")
    _shot(page, "review_request_pending")
    url = page.url
    # a full page: htmx (deferred) binds only once it has loaded; a Reject before then is a plain post
    # (a reload to the same URL), so "swapped in place" would not be what is tested
    page.wait_for_load_state()
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#reasons-error")).to_have_text("Choose at least one reason.")
    page.get_by_label("Proof of address is too old").check()
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#request-status")).to_have_text("Rejected")
    expect(page.locator("#reject-reasons")).to_have_text("Proof of address is too old")
    expect(page.get_by_text("Request rejected.")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("verification.rejected")
    expect(page.locator("#review-count")).to_have_text("1 requests and services waiting for review")
    assert page.url == url  # swapped in place, no reload
    _shot(page, "review_request_rejected")

    page.get_by_role("link", name="← Verification requests").click()
    page.get_by_role("link", name=ref_b).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(ref_b)
    page.wait_for_load_state()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#request-status")).to_have_text("Approved")
    expect(page.locator("#numbers")).to_contain_text("Not configured")
    expect(page.locator("#review-count")).to_be_hidden()
    page.get_by_role("link", name=number_b).click()
    expect(page.locator("#number-header")).to_contain_text("Not configured")
    expect(page.locator("#number-header")).not_to_contain_text("Awaiting registration")
    expect(page.locator("#history")).to_contain_text("number.registration_approved")

    page.goto(live + "/registration/reject-reasons")
    expect(page.get_by_role("heading", name="Reject reasons")).to_be_visible()
    _shot(page, "review_reject_reasons")
