"""Assign end-user details as a new user would (registration.md §5): from the table's "None" in the
Identity cell of an awaiting number → create an identity and an address inline → the checklist
shows what is missing → (proofs) → picks refresh the checklist without a reload → submit → the
details page shows the number In review."""
import os
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.audit import Actor
from did_app.db import db
from did_app.models import Address, Identity, Proof, ProofType, VerificationRequest
from did_app.registration import assignments, identities
from tests.factories import make_number

pytestmark = pytest.mark.browser
CLI = Actor(None, "cli", "cli")
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there to be looked at


def _shot(page, name: str) -> None:
    if SHOTS:
        for width in (1400, 400):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=os.path.join(SHOTS, f"{name}_{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 900})


def _add_proofs(live_app) -> None:
    """The proofs the seeded (*, *) requirement asks for: one personal, one address."""
    with live_app.app_context():
        identity = db.session.scalars(sa.select(Identity)).one()
        address = db.session.scalars(sa.select(Address)).one()
        for entity, owner in (("personal", dict(identity_id=identity.id)), ("address", dict(address_id=address.id))):
            type_id = db.session.scalar(sa.select(ProofType.id).where(ProofType.entity == entity).limit(1))
            db.session.add(Proof(proof_type_id=type_id, **owner))
        db.session.commit()
        db.session.remove()


def test_assign_end_user_details_from_the_table(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        make_number(number="+4930100001", country="DE", region="Berlin", city="Berlin", needs_registration=True,
                    awaiting_registration=True)
        db.session.remove()
    page.goto(live + "/numbers")
    page.locator("td.col-identity").get_by_role("link", name="None").click()
    expect(page.get_by_role("heading", name="Assign end-user details")).to_be_visible()
    expect(page.locator("#selection")).to_contain_text("1 number · Germany · Local")
    expect(page.locator("#assign-checklist")).to_contain_text("Choose an identity.")
    expect(page.get_by_role("button", name="Submit for review")).to_be_disabled()
    _shot(page, "assign_empty")

    page.get_by_text("Create an identity").click()
    page.locator("#identity-first_name").fill("Ada")
    page.locator("#identity-last_name").fill("Lovelace")
    page.locator("#identity-phone_number").fill("030 1234567")
    page.locator("#identity-country").select_option("DE")
    page.get_by_role("button", name="Create identity").click()
    expect(page.get_by_text("Identity Ada Lovelace created.")).to_be_visible()
    expect(page.locator("#assign-checklist")).to_contain_text("Needs 1 personal proof; 0 valid on file.")
    expect(page.locator("#assign-checklist")).to_contain_text("Choose an address.")

    page.get_by_text("Add an address to Ada Lovelace").click()
    page.locator("#address-street").fill("Hauptstr. 1")
    page.locator("#address-city").fill("Berlin")
    page.locator("#address-postal_code").fill("10115")
    page.locator("#address-country").select_option("DE")
    page.get_by_role("button", name="Add address").click()
    expect(page.get_by_text("Address added.")).to_be_visible()
    checklist = page.locator("#assign-checklist")
    expect(checklist).to_contain_text("Address is in Germany.")
    expect(checklist).to_contain_text("Needs 1 address proof; 0 valid on file.")
    expect(page.get_by_role("button", name="Submit for review")).to_be_disabled()
    _shot(page, "assign_missing")

    # INLINE PROOF UPLOAD GOES HERE: each failing proofs item renders upload_form() from
    # templates/registration/_proofs.html; until the proofs branch is merged it is a stub, so the
    # two proofs are created directly and the picks are sent again (as the upload's return would).
    _add_proofs(live_app)
    # "Add address" redirected to a full page: htmx (deferred) binds the select's change handler only
    # when that page has loaded; a pick made before then sends nothing (the CI flake of 2026-12-07).
    page.wait_for_load_state()
    page.evaluate("window.stillTheSamePage = true")
    address = page.locator("#address_id").input_value()
    with page.expect_response(lambda r: "address_id=&" in r.url or r.url.endswith("address_id=")):
        page.locator("#address_id").select_option("")
    expect(checklist).to_contain_text("Choose an address.")
    expect(page.locator("#assignment")).not_to_have_class(re.compile("htmx-(settling|swapping)"))
    with page.expect_response(lambda r: f"address_id={address}" in r.url):
        page.locator("#address_id").select_option(address)
    expect(checklist).to_contain_text("1 address proof needed; 1 valid on file.")
    expect(checklist).to_contain_text("1 personal proof needed; 1 valid on file.")
    expect(checklist.locator(".check-fail")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True  # htmx swapped the region, no reload
    assert "address_id=" in page.url  # the picks are in the URL
    submit = page.get_by_role("button", name="Submit for review")
    expect(submit).to_be_enabled()
    _shot(page, "assign_ready")

    submit.click()
    expect(page.locator(".flash-success")).to_contain_text("Submitted for review as VR-")
    assert page.url.endswith("/numbers/4930100001")
    expect(page.locator("main")).to_contain_text("In review")
    expect(page.locator("main")).to_contain_text("Registration in review (VR-")


def test_fix_and_resubmit_from_the_details_page(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        make_number(number="+4930100002", country="DE", region="Berlin", city="Berlin", needs_registration=True,
                    awaiting_registration=True)
        identity = identities.create_identity(CLI, identity_type="personal", first_name="Ada", last_name="Lovelace",
                                              phone_number="030 1234567", country="DE")
        identities.create_address(CLI, identity.id, street="Hauptstr. 1", city="Berlin", postal_code="10115",
                                  country="DE")
        identity_id = identity.id
        db.session.remove()
    _add_proofs(live_app)
    with live_app.app_context():
        vr, _ = assignments.submit(CLI, ["+4930100002"], identity_id=identity_id,
                                   address_id=db.session.scalar(sa.select(Address.id)))
        row = db.session.get(VerificationRequest, vr.id)
        row.status, row.reject_reasons = "rejected", ["Proof of address is too old"]
        db.session.commit()
        db.session.remove()
    page.goto(live + "/numbers/4930100002")
    expect(page.locator("#readiness")).to_contain_text("Registration rejected")
    page.locator("#readiness").get_by_role("button", name="Fix and resubmit").click()
    expect(page.get_by_role("heading", name="Fix and resubmit VR-")).to_be_visible()
    expect(page.locator("#assignment")).to_contain_text("Ada Lovelace")
    expect(page.locator("#rejection")).to_have_text("Rejected: Proof of address is too old.")
    _shot(page, "resubmit")
    page.get_by_role("button", name="Resubmit for review").click()
    expect(page.locator(".flash-success")).to_contain_text("Resubmitted for review as VR-")
    expect(page.locator("#readiness")).to_contain_text("Registration in review (VR-")
