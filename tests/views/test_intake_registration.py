"""The Add numbers preview says, before anything is charged, how many of the numbers need
registration and by when (issue 10 §1; lifecycle.md §2: the deadline is now + the workspace's
registration deadline days)."""
import pytest

from did_app.audit import Actor
from did_app.db import db
from did_app.registration import service
from did_app.workspace import ensure_workspace
from tests.conftest import csrf_from, login

CLI = Actor(None, "cli", "cli")
COMMON = {"tab": "list", "monthly_price": "1.50", "setup_price": "0.50", "features": "voice_in",
          "allow_additional_channels": "y", "channels_included": "300"}


@pytest.fixture
def german_local_needs_registration(app):
    with app.app_context():
        ensure_workspace(db.session).balance_minor = 10_000
        db.session.commit()
        service.create_requirement(CLI, country="DE", number_type="local", registration_required=True,
                                   identity_type="any", address_area="country", personal_proofs=1,
                                   business_proofs=1, address_proofs=1)


def _preview(client, numbers: str) -> str:
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    response = client.post("/numbers/add/preview", data={"csrf_token": token, **COMMON, "numbers": numbers})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_preview_counts_the_numbers_that_need_registration_and_their_deadline(
        app, client, german_local_needs_registration):
    login(client, "operator")
    body = _preview(client, "+49 30 12345678\n+49 30 12345679\n+14155550100")
    # T0 is 28 Nov 2026, 12:00 UTC; the default deadline is 30 days
    assert "2 of these numbers need end-user details by 28 Dec 2026." in body


def test_no_sentence_when_none_need_registration(app, client, german_local_needs_registration):
    login(client, "operator")
    body = _preview(client, "+14155550100")
    assert "need end-user details" not in body
