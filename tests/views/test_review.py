"""Review over HTTP (registration.md §5; access.md §2): everyone reads the requests, only admins
approve and reject (an operator gets 403), operators may withdraw; the refusal under its field
(422), a stale version (409), htmx fragments, filters, the navigation's count and the reject
reasons page."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.db import db
from did_app.models import Number, NumberService, RejectReason, VerificationRequest
from tests.conftest import HX, csrf_from, login
from tests.factories import make_identity, make_number, make_verification_request

REQS = "/registration/requests"


@pytest.fixture
def reqs(app):
    with app.app_context():
        acme = make_identity(identity_type="business", company_name="Acme GmbH", country="DE")
        pending = make_verification_request(identity=acme, country="DE")
        rejected = make_verification_request(status="rejected", reject_reasons=["Name does not match the proof"])
        approved = make_verification_request(status="approved", country="FR")
        number = make_number(needs_registration=True, awaiting_registration=True, identity_id=acme.id,
                             verification_request_id=pending.id,
                             registration_deadline_at=clock.now() + timedelta(days=3))
        other = db.session.scalar(sa.select(RejectReason.id).where(RejectReason.text.startswith("Other")))
        name = db.session.scalar(sa.select(RejectReason.id).where(RejectReason.text.startswith("Name")))
        return dict(pending=pending.id, pending_ref=pending.reference, rejected=rejected.id,
                    approved=approved.id, number=number.id, digits=number.number[1:], other=other, name=name)


def _token(client, path=REQS) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _status(app, request_id) -> str | None:
    with app.app_context():
        vr = db.session.get(VerificationRequest, request_id)
        return vr.status if vr else None


def test_everyone_reads_the_list_pending_first(client, reqs):
    login(client, "viewer")
    html = client.get(REQS).get_data(as_text=True).split('id="request-list"')[1]
    assert html.index(reqs["pending_ref"]) < html.index(">Approved<")
    assert "Acme GmbH" in html
    page = client.get(f"{REQS}/{reqs['pending']}").get_data(as_text=True)
    assert "Checklist as it stands now" in page and f"/numbers/{reqs['digits']}" in page
    assert "Approve" not in page and "Withdraw request" not in page  # hidden, not disabled


def test_filters_and_the_fragment(client, reqs):
    login(client, "viewer")
    assert reqs["pending_ref"] not in client.get(f"{REQS}?status=approved").get_data(as_text=True)
    assert reqs["pending_ref"] in client.get(f"{REQS}?identity=acme").get_data(as_text=True)
    assert reqs["pending_ref"] not in client.get(f"{REQS}?country=FR").get_data(as_text=True)
    digits = str(int(reqs["pending_ref"][3:]))
    assert reqs["pending_ref"] in client.get(f"{REQS}?reference={digits}").get_data(as_text=True)
    fragment = HX(client).get(f"{REQS}?status=pending").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="request-list"') and "<nav" not in fragment.split("request-list")[0]
    for bad in ("?page=-1", "?status=nope&country=%00", "?identity=" + "x" * 500, "?reference=%25%25"):
        assert client.get(REQS + bad).status_code == 200


def test_an_operator_cannot_review_but_can_withdraw(app, client, reqs):
    login(client, "operator")
    token = _token(client)
    for verb in ("approve", "reject"):
        response = client.post(f"{REQS}/{reqs['pending']}/{verb}", data={"csrf_token": token, "version": "1",
                                                                          "reasons": [reqs["name"]]})
        assert response.status_code == 403
    assert _status(app, reqs["pending"]) == "pending"
    page = client.get(f"{REQS}/{reqs['pending']}").get_data(as_text=True)
    assert "Withdraw request" in page and ">Approve<" not in page
    response = client.post(f"{REQS}/{reqs['pending']}/withdraw", data={"csrf_token": token, "version": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith(REQS)
    assert _status(app, reqs["pending"]) is None
    with app.app_context():
        assert db.session.get(Number, reqs["number"]).verification_request_id is None


def test_reject_without_a_reason_is_422_under_the_field(app, client, reqs):
    login(client, "admin")
    token = _token(client)
    response = client.post(f"{REQS}/{reqs['pending']}/reject", data={"csrf_token": token, "version": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<small id="reasons-error" class="field-error">Choose at least one reason.</small>' in html
    response = client.post(f"{REQS}/{reqs['pending']}/reject", data={"csrf_token": token, "version": "1",
                                                                      "reasons": [reqs["other"]]})
    assert response.status_code == 422 and 'id="comment-error"' in response.get_data(as_text=True)
    assert _status(app, reqs["pending"]) == "pending"


def test_a_stale_version_is_409_with_the_request_as_it_is(app, client, reqs):
    login(client, "admin")
    token = _token(client)
    response = client.post(f"{REQS}/{reqs['pending']}/approve", data={"csrf_token": token, "version": "7"})
    assert response.status_code == 409 and "changed by someone else" in response.get_data(as_text=True)
    assert _status(app, reqs["pending"]) == "pending"


def test_admin_rejects_with_htmx_and_gets_the_block_with_flash_and_count(app, client, reqs):
    login(client, "admin")
    hx = HX(client)
    hx.load_token(REQS)
    response = hx.post(f"{REQS}/{reqs['pending']}/reject", data={"version": "1", "reasons": [reqs["name"]]})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="request-main"' in html
    assert "Name does not match the proof" in html and "Request rejected." in html
    assert 'id="review-count"' in html and 'hx-swap-oob="true"' in html
    assert _status(app, reqs["pending"]) == "rejected"


def test_admin_approves_without_js(app, client, reqs):
    login(client, "admin")
    token = _token(client)
    response = client.post(f"{REQS}/{reqs['pending']}/approve", data={"csrf_token": token, "version": "1"})
    assert response.status_code == 303
    assert "Request approved." in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Number, reqs["number"]).awaiting_registration is False
    again = client.post(f"{REQS}/{reqs['pending']}/approve", data={"csrf_token": token, "version": "2"})
    assert again.status_code == 422 and "Only a request in review" in again.get_data(as_text=True)


def test_the_navigation_counts_requests_and_services_for_admins_only(app, client, reqs):
    with app.app_context():
        db.session.add(NumberService(number_id=reqs["number"], kind="cnam_out", status="pending", value="ACME"))
        db.session.commit()
    login(client, "admin")
    html = client.get("/numbers").get_data(as_text=True)
    assert 'id="review-count"' in html and ">2<span" in html  # one request + one service
    viewer = app.test_client()
    login(viewer, "viewer")
    assert 'id="review-count"' not in viewer.get("/numbers").get_data(as_text=True)


def test_reject_reasons_page(app, client, reqs):
    login(client, "operator")
    assert "Other (see comment)" in client.get("/registration/reject-reasons").get_data(as_text=True)
    token = _token(client, "/registration/reject-reasons")
    assert client.post("/registration/reject-reasons", data={"csrf_token": token, "new-text": "x"}).status_code == 403
    admin = app.test_client()
    login(admin, "admin")
    token = _token(admin, "/registration/reject-reasons")
    bad = admin.post("/registration/reject-reasons", data={"csrf_token": token, "new-text": " "})
    assert bad.status_code == 422 and "Reason must be 1–255 characters." in bad.get_data(as_text=True)
    ok = admin.post("/registration/reject-reasons", data={"csrf_token": token, "new-text": "Blurry photo"})
    assert ok.status_code == 303
    rid = reqs["name"]
    saved = admin.post(f"/registration/reject-reasons/{rid}", data={
        f"r{rid}-csrf_token": token, f"r{rid}-text": "Name differs from the proof", f"r{rid}-retired": "y"})
    assert saved.status_code == 303
    with app.app_context():
        row = db.session.get(RejectReason, rid)
        assert (row.text, row.retired) == ("Name differs from the proof", True)
