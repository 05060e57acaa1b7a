"""The assignment page over HTTP (registration.md §5; access.md §2): admins and operators assign
and resubmit, viewers get 403; skips and refusals shown; the checklist's messages on a 422; Submit
disabled until every item passes; CSRF; htmx swaps only the #assignment region."""
import re

import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db
from did_app.models import Number, Proof, ProofType, Requirement, VerificationRequest
from did_app.registration import assignments, identities
from tests.conftest import csrf_from, login
from tests.factories import make_number

CLI = Actor(None, "cli", "cli")
PERSON = dict(first_name="Ada", last_name="Lovelace", phone_number="+49 30 1234567", country="DE")
ADDRESS = dict(street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
URL = "/registration/assign"


def _proof(entity, **owner):
    type_id = db.session.scalar(sa.select(ProofType.id).where(ProofType.entity == entity).limit(1))
    db.session.add(Proof(proof_type_id=type_id, **owner))
    db.session.commit()


@pytest.fixture
def setup(app):
    """Two awaiting German numbers, a live one, and an identity whose address lacks its proof."""
    with app.app_context():
        for n in ("+4930100001", "+4930100002"):
            make_number(number=n, country="DE", region="Berlin", city="Berlin", needs_registration=True,
                        awaiting_registration=True)
        make_number(number="+14155550001")
        ada = identities.create_identity(CLI, identity_type="personal", **PERSON)
        address = identities.create_address(CLI, ada.id, **ADDRESS)
        _proof("personal", identity_id=ada.id)
        return dict(identity=ada.id, address=address.id)


def _get(client, **args):
    return client.get(URL, query_string={"number": ["+4930100001", "+4930100002", "+14155550001"], **args})


def _submit(client, setup, token, **extra):
    data = {"csrf_token": token, "number": ["+4930100001", "+4930100002"], "identity_id": setup["identity"],
            "address_id": setup["address"], **extra}
    return client.post(URL, data=data)


def _submit_button(html: str) -> str:
    return re.search(r'<button type="submit"[^>]*>(Re)?[Ss]ubmit for review', html).group(0)


def test_viewer_gets_403_and_the_table_cell_is_plain_text(app, client, setup):
    login(client, "viewer")
    assert _get(client).status_code == 403
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    assert _submit(client, setup, token).status_code == 403
    html = client.get("/numbers", query_string={"q": "+4930100001"}).get_data(as_text=True)
    assert "Assign end-user details" not in html


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_the_page_shows_skips_requirement_and_a_disabled_submit(app, client, setup, role):
    login(client, role)
    html = _get(client).get_data(as_text=True)
    assert "+14155550001 — Not awaiting registration." in html
    assert "2 numbers · Germany · Local" in html
    assert "Choose an identity." in html and "disabled" in _submit_button(html)
    picked = _get(client, identity_id=setup["identity"], address_id=setup["address"]).get_data(as_text=True)
    assert "Needs 1 address proof; 0 valid on file." in picked
    assert "1 personal proof needed; 1 valid on file." in picked
    assert "disabled" in _submit_button(picked)
    with app.app_context():
        _proof("address", address_id=setup["address"])
    ready = _get(client, identity_id=setup["identity"], address_id=setup["address"]).get_data(as_text=True)
    assert "disabled" not in _submit_button(ready)


def test_the_table_cell_links_to_the_assignment_for_editors(app, client, setup):
    login(client, "operator")
    html = client.get("/numbers", query_string={"q": "+4930100001"}).get_data(as_text=True)
    assert 'href="/registration/assign?number=%2B4930100001"' in html and "Assign end-user details" in html


def test_htmx_pick_swaps_only_the_assignment_region(app, client, setup):
    login(client, "operator")
    response = _get(client, identity_id=setup["identity"])
    fragment = client.get(URL, query_string={"number": ["+4930100001"], "identity_id": setup["identity"]},
                          headers={"HX-Request": "true"}).get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in fragment and fragment.lstrip().startswith('<section class="card" id="assignment"')
    assert "Hauptstr. 1" in fragment


def test_submit_refused_with_the_checklist_messages_then_accepted(app, client, setup):
    login(client, "operator")
    token = csrf_from(_get(client).get_data(as_text=True))
    refused = _submit(client, setup, token)
    assert refused.status_code == 422
    assert 'id="address_id-error"' in refused.get_data(as_text=True)
    assert "Needs 1 address proof; 0 valid on file." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VerificationRequest)) == 0
        _proof("address", address_id=setup["address"])
    done = _submit(client, setup, token)
    assert done.status_code == 303 and done.headers["Location"].endswith("/numbers/4930100001")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        vr = db.session.scalars(sa.select(VerificationRequest)).one()
        assert set(db.session.scalars(sa.select(Number.number).where(Number.verification_request_id == vr.id))) == {
            "+4930100001", "+4930100002"}
    assert f"Submitted for review as {vr.reference}." in page and "In review" in page


def test_one_country_and_type_refusal(app, client, setup):
    with app.app_context():
        make_number(number="+33100000001", country="FR", needs_registration=True, awaiting_registration=True)
    login(client, "admin")
    html = client.get(URL, query_string={"number": ["+4930100001", "+33100000001"]}).get_data(as_text=True)
    assert "this selection has 2. Filter to one first." in html and "assign-submit" not in html
    token = csrf_from(html)
    refused = client.post(URL, data={"csrf_token": token, "number": ["+4930100001", "+33100000001"],
                                     "identity_id": setup["identity"], "address_id": setup["address"]})
    assert refused.status_code == 422 and "Filter to one first." in refused.get_data(as_text=True)


def test_csrf_is_required(app, client, setup):
    login(client, "operator")
    assert _submit(client, setup, "nope").status_code == 400
    assert client.post("/registration/assign/identities", data={"number": "+4930100001"}).status_code == 400


def test_create_identity_and_address_inline(app, client, setup):
    login(client, "operator")
    token = csrf_from(_get(client).get_data(as_text=True))
    bad = client.post("/registration/assign/identities", data={
        "identity-csrf_token": token, "number": "+4930100001", "identity-identity_type": "personal",
        **{f"identity-{k}": v for k, v in dict(PERSON, first_name="").items()}})
    assert bad.status_code == 422 and "Enter the first name." in bad.get_data(as_text=True)
    made = client.post("/registration/assign/identities", data={
        "identity-csrf_token": token, "number": "+4930100001", "identity-identity_type": "personal",
        **{f"identity-{k}": v for k, v in dict(PERSON, first_name="Grace").items()}})
    assert made.status_code == 303 and "identity_id=" in made.headers["Location"]
    new_id = int(re.search(r"identity_id=(\d+)", made.headers["Location"]).group(1))
    added = client.post("/registration/assign/addresses", data={
        "address-csrf_token": token, "number": "+4930100001", "identity_id": new_id,
        **{f"address-{k}": v for k, v in ADDRESS.items()}})
    assert added.status_code == 303 and "address_id=" in added.headers["Location"]
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "Grace Lovelace" in page and "Needs 1 personal proof; 0 valid on file." in page


def test_resubmit_page_and_rules(app, client, setup):
    with app.app_context():
        _proof("address", address_id=setup["address"])
        vr, _ = assignments.submit(CLI, ["+4930100001"], identity_id=setup["identity"],
                                   address_id=setup["address"])
        vr_id, ref = vr.id, vr.reference
    login(client, "operator")
    url = f"/registration/requests/{vr_id}/resubmit"
    html = client.get(url).get_data(as_text=True)
    assert "Only a rejected request can be resubmitted." in html
    with app.app_context():
        row = db.session.get(VerificationRequest, vr_id)
        row.status, row.reject_reasons = "rejected", ["Proof of address is too old"]
        db.session.commit()
        version = row.version
    html = client.get(url).get_data(as_text=True)
    assert f"Fix and resubmit {ref}" in html and "disabled" not in _submit_button(html)
    token = csrf_from(html)
    stale = client.post(url, data={"csrf_token": token, "address_id": setup["address"], "version": version - 1})
    assert stale.status_code == 409
    done = client.post(url, data={"csrf_token": token, "address_id": setup["address"], "version": version})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(VerificationRequest, vr_id).submission_count == 2
    login(client, "viewer")
    assert client.get(url).status_code == 403


def test_required_service_description_under_its_field(app, client, setup):
    with app.app_context():
        db.session.add(Requirement(country="DE", number_type="local", registration_required=True,
                                   service_description_required=True, address_proofs=0,
                                   restriction_message="Numbers may not be used for call centres"))
        db.session.commit()
    login(client, "operator")
    html = _get(client, identity_id=setup["identity"], address_id=setup["address"]).get_data(as_text=True)
    assert "Numbers may not be used for call centres" in html and "Service description required." in html
    refused = _submit(client, setup, csrf_from(html))
    assert refused.status_code == 422 and 'id="service_description-error"' in refused.get_data(as_text=True)


def test_details_page_readiness_fixes_open_the_assignment_and_the_resubmit(app, client, setup):
    login(client, "operator")
    html = client.get("/numbers/4930100001").get_data(as_text=True)
    assert 'href="/registration/assign?number=%2B4930100001"' in html
    with app.app_context():
        _proof("address", address_id=setup["address"])
        vr, _ = assignments.submit(CLI, ["+4930100001"], identity_id=setup["identity"],
                                   address_id=setup["address"])
        row = db.session.get(VerificationRequest, vr.id)
        row.status, row.reject_reasons = "rejected", ["Proof of address is too old"]
        db.session.commit()
        vr_id = vr.id
    html = client.get("/numbers/4930100001").get_data(as_text=True)
    assert f'href="/registration/requests/{vr_id}/resubmit"' in html and "Fix and resubmit" in html
    login(client, "viewer")
    assert "/resubmit" not in client.get("/numbers/4930100001").get_data(as_text=True)
