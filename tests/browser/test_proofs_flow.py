"""An admin uploads proofs on an identity's page: a text file named .pdf is refused under the file
field without a reload, a PNG is accepted and listed with its download link, and the download is an
attachment under its original name."""
import os

import pytest
from playwright.sync_api import expect

from did_app.audit import Actor
from did_app.registration import identities

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("SCREENSHOTS")  # a folder: the pages are saved there to be looked at
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _shot(page, name: str, part: str | None = None) -> None:
    """The page, and the `part` (a selector) close up, wide and narrow."""
    if SHOTS:
        for width in (1400, 400):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=os.path.join(SHOTS, f"{name}_{width}.png"), full_page=True)
            if part:
                page.locator(part).screenshot(path=os.path.join(SHOTS, f"{name}_{width}_part.png"))
        page.set_viewport_size({"width": 1280, "height": 900})


def test_upload_a_png_on_an_identity_page(live_app, live, page, first_admin, tmp_path, monkeypatch):
    monkeypatch.setattr(live_app, "instance_path", str(tmp_path / "instance"))
    with live_app.app_context():
        ada = identities.create_identity(Actor(None, "cli", "cli"), identity_type="personal", first_name="Ada",
                                         last_name="Lovelace", phone_number="+49 30 1234567", country="DE")
        identity_id = ada.id
    first_admin()
    page.goto(f"{live}/registration/identities/{identity_id}")
    proofs = page.locator("#proofs")
    expect(proofs).to_contain_text("No proofs yet.")

    page.get_by_label("Proof type").select_option(label="Passport")
    page.get_by_label("Files").set_input_files([{"name": "notes.pdf", "mimeType": "application/pdf",
                                                 "buffer": b"only text, named like a PDF"}])
    page.get_by_role("button", name="Upload proof").click()
    expect(page.locator("#proof-upload-files-error")).to_have_text("Files must be PDF, PNG or JPEG.")
    expect(proofs).to_contain_text("No proofs yet.")
    _shot(page, "proof_refused", "#proofs")

    page.get_by_label("Proof type").select_option(label="Driving licence")
    page.get_by_label("Expires on").fill("2030-06-30")
    page.get_by_label("Files").set_input_files([{"name": "licence.png", "mimeType": "image/png", "buffer": PNG}])
    page.get_by_role("button", name="Upload proof").click()
    expect(page.get_by_text("Driving licence added.")).to_be_visible()
    expect(proofs.locator("tbody tr")).to_have_count(1)
    expect(proofs).to_contain_text("Driving licence")
    expect(proofs).to_contain_text("2030-06-30")
    link = proofs.get_by_role("link", name="licence.png")
    expect(link).to_be_visible()
    expect(page.locator("#history")).to_contain_text("identity.proof_added")
    _shot(page, "identity_proofs", "#proofs")

    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "licence.png"
    assert open(download.value.path(), "rb").read() == PNG

    page.goto(f"{live}/registration/proof-types")
    expect(page.get_by_role("heading", name="Proof types")).to_be_visible()
    _shot(page, "proof_types")
