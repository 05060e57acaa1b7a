"""Issue 10's walk, as a new user would: a number awaiting registration → "Assign end-user details"
from the table → the checklist shows what the requirement still lacks → upload the missing proofs
inline → submit → as admin, reject with a reason → the number shows "Rejected — resubmit" with the
reason and a resubmit fix → upload a new proof of address and resubmit → approve → the number
leaves Awaiting registration and its readiness moves on to the voice trunk step. The user never
reloads a page: every step's answer arrives by itself (htmx swaps or the app's own redirects)."""
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.demo.documents import pdf, png
from did_app.models import Number, Proof, VerificationRequest
from tests.factories import make_number

pytestmark = pytest.mark.browser
DIGITS = "4930555001"


def _upload(page, form_id: str, type_name: str, name: str, data: bytes, mime: str) -> None:
    # each upload follows a full page (a redirect or a link) and htmx (deferred) binds only once it has
    # loaded: an upload before then is a plain multipart post, not the htmx one
    page.wait_for_load_state()
    form = page.locator(f"#{form_id}")
    form.locator("select[name=proof_type_id]").select_option(label=type_name)
    form.locator("input[type=file]").set_input_files([{"name": name, "mimeType": mime, "buffer": data}])
    form.get_by_role("button", name="Upload proof").click()


def _number(live_app) -> Number:
    with live_app.app_context():
        n = db.session.scalars(sa.select(Number).where(Number.number == "+" + DIGITS)).one()
        db.session.expunge(n)
        db.session.remove()
        return n


def test_awaiting_number_to_ready_for_configuration(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        make_number(number="+" + DIGITS, country="DE", region="Berlin", city="Berlin", needs_registration=True,
                    awaiting_registration=True)
        db.session.remove()

    # the table's Identity cell opens the assignment
    page.goto(live + "/numbers")
    page.locator("td.col-identity").get_by_role("link", name="None").click()
    expect(page.get_by_role("heading", name="Assign end-user details")).to_be_visible()
    checklist = page.locator("#assign-checklist")

    page.get_by_text("Create an identity").click()
    page.locator("#identity-first_name").fill("Grace")
    page.locator("#identity-last_name").fill("Hopper")
    page.locator("#identity-phone_number").fill("030 7654321")
    page.locator("#identity-country").select_option("DE")
    page.get_by_role("button", name="Create identity").click()
    expect(page.get_by_text("Identity Grace Hopper created.")).to_be_visible()
    page.get_by_text("Add an address to Grace Hopper").click()
    page.locator("#address-street").fill("Unter den Linden 5")
    page.locator("#address-city").fill("Berlin")
    page.locator("#address-postal_code").fill("10117")
    page.locator("#address-country").select_option("DE")
    page.get_by_role("button", name="Add address").click()
    expect(page.get_by_text("Address added.")).to_be_visible()

    # what the requirement still lacks, and the upload right under it
    expect(checklist).to_contain_text("Needs 1 personal proof; 0 valid on file.")
    expect(checklist).to_contain_text("Needs 1 address proof; 0 valid on file.")
    submit = page.get_by_role("button", name="Submit for review")
    expect(submit).to_be_disabled()
    _upload(page, "proof-upload-identity", "Passport", "passport.png", png((40, 90, 160)), "image/png")
    expect(checklist).to_contain_text("1 personal proof needed; 1 valid on file.")
    _upload(page, "proof-upload-address", "Utility bill", "bill.pdf", pdf(["Utility bill, Grace Hopper"]),
            "application/pdf")
    expect(checklist).to_contain_text("1 address proof needed; 1 valid on file.")
    expect(checklist.locator(".check-fail")).to_have_count(0)
    expect(submit).to_be_enabled()
    submit.click()
    expect(page.locator(".flash-success")).to_contain_text("Submitted for review as VR-")
    expect(page.locator("#readiness")).to_contain_text("Registration in review (VR-")

    # as admin: reject with a reason, from the request the readiness check links to
    page.locator("#readiness").get_by_role("link", name="Review request").click()
    expect(page.locator("#decision")).to_be_visible()
    page.wait_for_load_state()  # the decisions swap #request-main only once htmx is bound
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#reasons-error")).to_have_text("Choose at least one reason.")
    page.get_by_label("Proof of address is too old").check()
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#request-main")).to_contain_text("Rejected")
    with live_app.app_context():
        vr = db.session.scalars(sa.select(VerificationRequest)).one()
        assert (vr.status, vr.reject_reasons) == ("rejected", ["Proof of address is too old"])
        db.session.remove()

    # the number says so, with the reason and the fix
    page.locator(f"#request-main a[href$='/numbers/{DIGITS}']").first.click()
    readiness = page.locator("#readiness")
    expect(readiness).to_contain_text("Registration rejected (VR-")
    expect(readiness).to_contain_text("Proof of address is too old")
    expect(page.locator("#services")).to_contain_text("Rejected — resubmit")
    readiness.get_by_role("button", name="Fix and resubmit").click()
    expect(page.get_by_role("heading", name="Fix and resubmit VR-")).to_be_visible()
    expect(page.locator("#rejection")).to_contain_text("Proof of address is too old")
    page.locator("li[data-key='proofs:address']").get_by_text("Replace or add a proof").click()
    _upload(page, "proof-upload-address", "Bank statement", "statement.pdf", pdf(["Bank statement, 2026"]),
            "application/pdf")
    expect(page.locator(".flash-success")).to_have_text("Bank statement added.")  # the upload came back here
    expect(page.locator("#rejection")).to_contain_text("Proof of address is too old")
    page.get_by_role("button", name="Resubmit for review").click()
    expect(page.locator(".flash-success")).to_contain_text("Resubmitted for review as VR-")

    # approve: the number leaves Awaiting registration and the next step is the voice trunk
    page.locator("#readiness").get_by_role("link", name="Review request").click()
    expect(page.locator("#request-main")).to_contain_text("Submissions2")
    page.wait_for_load_state()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#request-main")).to_contain_text("Approved")
    number = _number(live_app)
    assert (number.awaiting_registration, number.registration_deadline_at) == (False, None)
    page.goto(live + f"/numbers/{DIGITS}")
    expect(page.locator("main .badge").first).to_have_text("Not configured")  # was Awaiting registration
    readiness = page.locator("#readiness")
    expect(readiness.locator("li.check-pass", has_text="Registration")).to_have_count(1)
    # the first step that still blocks is now the voice trunk
    expect(readiness.locator("li.check-fail").first.locator(".check-title")).to_contain_text("Voice trunk")
    with live_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Proof)) == 3
        db.session.remove()
