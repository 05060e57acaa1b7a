"""The services pages over HTTP (registration.md §6, access.md §2): admins and operators request,
change and remove; only admins review; viewers read. 422 with the message under the field, 409 on
a stale number, CSRF on every write, the details page's Services section and A1 fixes."""
import pytest
import sqlalchemy as sa
from markupsafe import escape

from did_app.audit import Actor
from did_app.db import db
from did_app.models import Address, Number, NumberService
from did_app.registration import number_services as svc
from tests.conftest import HX, csrf_from, login
from tests.factories import make_identity, make_number

CLI = Actor(None, "cli", "cli")


@pytest.fixture
def w(app):
    with app.app_context():
        ada = make_identity(first_name="Ada", last_name="Lovelace", country="US")
        home = Address(identity_id=ada.id, street="1 Main St", city="Springfield", postal_code="12345", country="US")
        db.session.add(home)
        db.session.commit()
        number = make_number(features=("voice_in", "cnam_out", "emergency"))
        return dict(ada=ada.id, home=home.id, number=number.id, digits=number.digits, version=number.version)


def _page(w) -> str:
    return f"/registration/numbers/{w['digits']}/services"


def _service(app, w, status="pending") -> int:
    with app.app_context():
        service = svc.request_service(CLI, w["number"], "cnam_out", value="ACME", identity_id=w["ada"])
        if status == "active":
            svc.approve_service(CLI, service.id)
        elif status == "rejected":
            svc.reject_service(CLI, service.id, "Name not on the proof")
        return service.id


def _version(app, w) -> int:
    with app.app_context():
        return db.session.get(Number, w["number"]).version


def _cnam_form(client, w, value="ACME CORP", **extra) -> dict:
    token = csrf_from(client.get(_page(w)).get_data(as_text=True))
    return {"csrf_token": token, "kind": "cnam_out", "cnam_out-value": value, "cnam_out-identity_id": str(w["ada"]),
            "cnam_out-version": str(_version(client.application, w)), **extra}


def test_operator_requests_cnam_out_and_lands_on_the_details_page(app, client, w):
    login(client, "operator")
    page = client.get(_page(w)).get_data(as_text=True)
    assert 'id="cnam_out-value"' in page and "Request CNAM OUT" in page and "Request emergency calling" in page
    answer = client.post(_page(w), data=_cnam_form(client, w))
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/numbers/{w['digits']}#services")
    detail = client.get(f"/numbers/{w['digits']}").get_data(as_text=True)
    services = detail[detail.index('id="services"'):detail.index('id="history"')]
    assert "ACME CORP" in services and "Pending" in services and "Ada Lovelace" in services
    assert "CNAM OUT pending approval" in detail
    assert ">Review</button>" not in detail  # an operator can't review
    table = client.get("/numbers").get_data(as_text=True)
    assert '<span class="dot dot-pending" aria-hidden="true"></span>CNAM<span class="visually-hidden"> (pending)' in table


@pytest.mark.parametrize("value, field, message", [
    ("ACME!", "cnam_out-value", svc.CNAM_MESSAGE),
    ("x" * 16, "cnam_out-value", svc.CNAM_MESSAGE),
])
def test_a_refusal_is_422_under_the_field(app, client, w, value, field, message):
    login(client, "operator")
    answer = client.post(_page(w), data=_cnam_form(client, w, value=value))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f'<small id="{field}-error" class="field-error">{escape(message)}</small>' in html
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberService)) == 0


def test_the_emergency_address_must_be_in_the_numbers_country(app, client, w):
    with app.app_context():
        abroad = Address(identity_id=w["ada"], street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
        db.session.add(abroad)
        db.session.commit()
        abroad_id = abroad.id
    login(client, "admin")
    token = csrf_from(client.get(_page(w)).get_data(as_text=True))
    answer = client.post(_page(w), data={"csrf_token": token, "kind": "emergency",
                                         "emergency-identity_id": str(w["ada"]),
                                         "emergency-address_id": str(abroad_id),
                                         "emergency-version": str(_version(app, w))})
    assert answer.status_code == 422
    assert ('<small id="emergency-address_id-error" class="field-error">The emergency address must be in '
            'United States.</small>') in answer.get_data(as_text=True)


def test_the_identity_picker_follows_the_identity_rule(app, client, w):
    with app.app_context():
        bob = make_identity(first_name="Bob", last_name="Builder")
        db.session.get(Number, w["number"]).identity_id = bob.id
        db.session.commit()
    login(client, "operator")
    page = client.get(_page(w)).get_data(as_text=True)
    assert "Bob Builder" in page and "Ada Lovelace" not in page
    answer = client.post(_page(w), data=_cnam_form(client, w))
    assert answer.status_code == 422
    assert "This number&#39;s services must use its registration identity Bob Builder." in answer.get_data(as_text=True)


def test_the_emergency_address_picker_lists_the_picked_identitys_addresses(app, client, w):
    login(client, "operator")
    fragment = client.get(_page(w), query_string={"emergency-identity_id": w["ada"]},
                          headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="emergency-address">') and "1 Main St, Springfield" in html


def test_a_stale_number_version_is_409(app, client, w):
    login(client, "operator")
    form = _cnam_form(client, w, **{"cnam_out-version": str(_version(app, w) - 1)})
    answer = client.post(_page(w), data=form)
    assert answer.status_code == 409 and "changed by someone else" in answer.get_data(as_text=True)


def test_a_number_without_the_feature_shows_why(app, client, w):
    with app.app_context():
        plain = make_number(features=("voice_in",)).digits
    login(client, "operator")
    page = client.get(f"/registration/numbers/{plain}/services").get_data(as_text=True)
    assert "This number does not support CNAM OUT." in page and 'id="cnam_out-value"' not in page
    token = csrf_from(page)
    answer = client.post(f"/registration/numbers/{plain}/services",
                         data={"csrf_token": token, "kind": "cnam_out", "cnam_out-value": "ACME",
                               "cnam_out-identity_id": str(w["ada"]), "cnam_out-version": "1"})
    assert answer.status_code == 422 and 'role="alert"><p>This number does not support CNAM OUT.' in answer.get_data(
        as_text=True)


def test_viewers_read_and_cannot_request_or_remove(app, client, w):
    service_id = _service(app, w)
    login(client, "viewer")
    page = client.get(_page(w)).get_data(as_text=True)
    assert "ACME" in page and 'id="cnam_out-value"' not in page and "Remove CNAM OUT" not in page
    detail = client.get(f"/numbers/{w['digits']}").get_data(as_text=True)
    assert "Request emergency calling" not in detail and "Change</a>" not in detail
    token = csrf_from(detail)
    assert client.post(_page(w), data=_cnam_form(client, w)).status_code == 403
    assert client.post(f"/registration/services/{service_id}/remove", data={"csrf_token": token}).status_code == 403
    assert client.get("/registration/services").status_code == 403


def test_operator_cannot_review(app, client, w):
    service_id = _service(app, w)
    login(client, "operator")
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    assert client.get("/registration/services").status_code == 403
    assert client.post(f"/registration/services/{service_id}/approve", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/registration/services/{service_id}/reject",
                       data={"csrf_token": token, "reason": "no"}).status_code == 403
    with app.app_context():
        assert db.session.get(NumberService, service_id).status == "pending"


def test_writes_without_the_token_are_refused(app, client, w):
    service_id = _service(app, w)
    login(client, "admin")
    form = _cnam_form(client, w)
    del form["csrf_token"]
    assert client.post(_page(w), data=form).status_code == 400
    assert client.post(f"/registration/services/{service_id}/approve").status_code == 400
    answer = client.post(f"/registration/services/{service_id}/reject", data={"reason": "x"},
                         headers={"HX-Request": "true"})
    assert answer.status_code == 400 and answer.headers.get("HX-Refresh") == "true"
    with app.app_context():
        assert db.session.get(NumberService, service_id).status == "pending"


def test_admin_lists_pending_first_and_filters(app, client, w):
    active = _service(app, w, "active")
    with app.app_context():
        other = make_number(features=("voice_in", "emergency"))
        pending = svc.request_service(CLI, other.id, "emergency", identity_id=w["ada"], address_id=w["home"]).id
    login(client, "admin")
    html = client.get("/registration/services").get_data(as_text=True)
    assert html.index(f'id="service-{pending}"') < html.index(f'id="service-{active}"')
    only = client.get("/registration/services", query_string={"status": "active"}).get_data(as_text=True)
    assert f'id="service-{active}"' in only and f'id="service-{pending}"' not in only
    kind = client.get("/registration/services", query_string={"kind": "emergency"}).get_data(as_text=True)
    assert f'id="service-{pending}"' in kind and f'id="service-{active}"' not in kind
    by_number = client.get("/registration/services", query_string={"number": "+1 " + w["digits"][1:]}).get_data(as_text=True)
    assert f'id="service-{active}"' in by_number and f'id="service-{pending}"' not in by_number
    fragment = client.get("/registration/services", query_string={"kind": "bogus"}, headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and text.lstrip().startswith('<div id="service-list">')


def test_admin_approves_inline(app, client, w):
    service_id = _service(app, w)
    login(client, "admin")
    hx = HX(client)
    answer = hx.post(f"/registration/services/{service_id}/approve")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and html.lstrip().startswith(f'<tr id="service-{service_id}"')
    assert "Active" in html and "Service request approved." in html and 'hx-swap-oob="true"' in html
    again = hx.post(f"/registration/services/{service_id}/approve")
    assert again.status_code == 422 and "only a pending request can be decided" in again.get_data(as_text=True)
    detail = client.get(f"/numbers/{w['digits']}").get_data(as_text=True)
    assert "pending approval" not in detail and "number.service_approved" in detail


def test_admin_rejects_with_a_reason_inline(app, client, w):
    service_id = _service(app, w)
    login(client, "admin")
    hx = HX(client)
    refused = hx.post(f"/registration/services/{service_id}/reject", data={"reason": " "})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and html.lstrip().startswith(f'<tr id="service-{service_id}"')
    assert f'<small id="reason-{service_id}-error" class="field-error">Enter a reason.</small>' in html
    too_long = hx.post(f"/registration/services/{service_id}/reject", data={"reason": "x" * 1001})
    assert too_long.status_code == 422 and "Reason must be at most 1,000 characters." in too_long.get_data(as_text=True)
    answer = hx.post(f"/registration/services/{service_id}/reject", data={"reason": "Name not on the proof"})
    assert answer.status_code == 200 and "Rejected" in answer.get_data(as_text=True)
    detail = client.get(f"/numbers/{w['digits']}").get_data(as_text=True)
    assert "CNAM OUT rejected: Name not on the proof." in detail
    assert f'action="/registration/numbers/{w["digits"]}/services#cnam_out">' in detail and "Edit and resubmit" in detail


def test_a_classic_reject_without_reason_shows_the_page_with_the_message(app, client, w):
    service_id = _service(app, w)
    login(client, "admin")
    token = csrf_from(client.get("/registration/services").get_data(as_text=True))
    answer = client.post(f"/registration/services/{service_id}/reject", data={"csrf_token": token, "reason": ""})
    assert answer.status_code == 422 and "<html" in answer.get_data(as_text=True)
    assert "Enter a reason." in answer.get_data(as_text=True)
    done = client.post(f"/registration/services/{service_id}/reject", data={"csrf_token": token, "reason": "No"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/registration/services")


def test_admin_sees_review_on_a1(app, client, w):
    _service(app, w)
    login(client, "admin")
    detail = client.get(f"/numbers/{w['digits']}").get_data(as_text=True)
    assert 'action="/registration/services">' in detail and f'name="number" value="{w["digits"]}"' in detail
    assert '<button type="submit" class="secondary">Review</button>' in detail


def test_remove_deletes_and_returns_to_the_details_page(app, client, w):
    service_id = _service(app, w, "active")
    login(client, "operator")
    detail = client.get(f"/numbers/{w['digits']}").get_data(as_text=True)
    token = csrf_from(detail)
    stale = client.post(f"/registration/services/{service_id}/remove",
                        data={"csrf_token": token, "version": str(_version(app, w) - 1)})
    assert stale.status_code == 409
    answer = client.post(f"/registration/services/{service_id}/remove",
                         data={"csrf_token": token, "version": str(_version(app, w))})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("#services")
    with app.app_context():
        assert db.session.get(NumberService, service_id) is None
    assert client.post(f"/registration/services/{service_id}/remove", data={"csrf_token": token}).status_code == 404
    detail = client.get(f"/numbers/{w['digits']}").get_data(as_text=True)
    assert "number.service_removed" in detail and "Request CNAM OUT" in detail
