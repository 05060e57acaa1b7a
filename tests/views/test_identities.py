"""The identities and addresses pages over HTTP (registration.md §3, §7; access.md §2): everyone
reads, admins and operators write; 422 under the field, 409 on a stale edit, the review lock, the
delete refusal, page vs fragment."""
import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db
from did_app.models import Address, Identity, VerificationRequest
from did_app.registration import identities as svc
from tests.conftest import csrf_from, login

CLI = Actor(None, "cli", "cli")
IDS = "/registration/identities"
PERSON = dict(first_name="Ada", last_name="Lovelace", phone_number="+49 30 1234567", country="DE")
ADDRESS = dict(street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")


@pytest.fixture
def ids(app):
    with app.app_context():
        acme = svc.create_identity(CLI, identity_type="business", company_name="Acme GmbH", **PERSON)
        ada = svc.create_identity(CLI, identity_type="personal", **dict(PERSON, country="FR",
                                                                          phone_number="+33 1 23 45 67 89"))
        address = svc.create_address(CLI, acme.id, **ADDRESS)
        return dict(acme=acme.id, ada=ada.id, address=address.id)


def _count(app, model=Identity) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _prefixed(values: dict) -> dict:
    """The add-address form's names on the identity page."""
    return {f"address-{k}": v for k, v in values.items()}


def _token(client) -> str:
    return csrf_from(client.get(IDS).get_data(as_text=True))


def test_viewers_read_and_cannot_write(app, client, ids):
    login(client, "viewer")
    html = client.get(IDS).get_data(as_text=True)
    assert "Acme GmbH" in html and "New identity" not in html
    shown = client.get(f"{IDS}/{ids['acme']}").get_data(as_text=True)
    assert "Hauptstr. 1" in shown and "Edit identity" not in shown and "Delete identity" not in shown
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    assert client.get(f"{IDS}/new").status_code == 403
    assert client.post(IDS, data={"csrf_token": token, "identity_type": "personal", **PERSON}).status_code == 403
    assert client.post(f"{IDS}/{ids['ada']}", data={"csrf_token": token, **PERSON, "version": "1"}).status_code == 403
    assert client.post(f"{IDS}/{ids['ada']}/delete", data={"csrf_token": token}).status_code == 403
    assert client.post(f"{IDS}/{ids['ada']}/addresses", data={"csrf_token": token, **ADDRESS}).status_code == 403
    assert client.post(f"/registration/addresses/{ids['address']}/delete",
                       data={"csrf_token": token}).status_code == 403
    assert _count(app) == 2


def test_filters_search_and_fragment(app, client, ids):
    login(client, "viewer")

    def listed(**args) -> str:
        html = client.get(IDS, query_string=args).get_data(as_text=True)
        return html[html.index('id="identity-list"'):]
    assert "Acme GmbH" in listed(type="business") and "Acme GmbH" not in listed(type="personal")
    assert "Acme GmbH" not in listed(country="FR") and "Ada Lovelace" in listed(country="FR")
    assert "Acme GmbH" in listed(verified="no") and "Acme GmbH" not in listed(verified="yes")
    assert "Acme GmbH" in listed(q="acme") and "France" not in listed(q="acme")
    fragment = client.get(IDS, query_string={"type": "business"}, headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'id="identity-list"' in text and "Acme GmbH" in text


def test_operator_creates_edits_and_sees_refusals(app, client, ids):
    login(client, "operator")
    assert client.get(f"{IDS}/new").status_code == 200
    refused = client.post(IDS, data={"csrf_token": _token(client), "identity_type": "personal",
                                     "company_name": "Acme", **PERSON})
    assert refused.status_code == 422
    assert "Only business identities have a company name." in refused.get_data(as_text=True)
    created = client.post(IDS, data={"csrf_token": _token(client), "identity_type": "personal",
                                     **dict(PERSON, first_name="Grace")})
    assert created.status_code == 303 and _count(app) == 3
    stale = client.post(f"{IDS}/{ids['ada']}", data={"csrf_token": _token(client), **PERSON, "version": "9"})
    assert stale.status_code == 409
    saved = client.post(f"{IDS}/{ids['ada']}", data={"csrf_token": _token(client), **dict(PERSON, country="FR",
                        phone_number="01 23 45 67 89"), "version": "1"})
    assert saved.status_code == 303
    with app.app_context():
        assert db.session.get(Identity, ids["ada"]).phone_number == "+33123456789"
    added = client.post(f"{IDS}/{ids['ada']}/addresses", data={"csrf_token": _token(client),
                                                                **_prefixed(dict(ADDRESS, street=""))})
    assert added.status_code == 422 and "Enter the street." in added.get_data(as_text=True)
    added = client.post(f"{IDS}/{ids['ada']}/addresses", data={"csrf_token": _token(client), **_prefixed(ADDRESS)})
    assert added.status_code == 303 and _count(app, Address) == 2


def test_review_lock_and_delete_refusals(app, client, ids):
    with app.app_context():
        vr = VerificationRequest(identity_id=ids["acme"], address_id=ids["address"], country="DE",
                                 number_type="local", status="pending", reference="VR-000042")
        db.session.add(vr)
        db.session.commit()
    login(client, "operator")
    page = client.get(f"{IDS}/{ids['acme']}").get_data(as_text=True)
    assert "In review (VR-000042)" in page and "Edit identity" not in page
    locked = client.post(f"{IDS}/{ids['acme']}", data={"csrf_token": _token(client), **PERSON,
                                                      "company_name": "Acme AG", "version": "1"})
    assert locked.status_code == 422 and "In review (VR-000042). Wait for the decision" in locked.get_data(as_text=True)
    refused = client.post(f"{IDS}/{ids['acme']}/delete", data={"csrf_token": _token(client)})
    assert refused.status_code == 422
    assert "Identity Acme GmbH is used by 0 numbers and 1 verification request." in refused.get_data(as_text=True)
    refused = client.post(f"/registration/addresses/{ids['address']}/delete", data={"csrf_token": _token(client)})
    assert refused.status_code == 422
    assert "This address is used by verification VR-000042." in refused.get_data(as_text=True)
    deleted = client.post(f"{IDS}/{ids['ada']}/delete", data={"csrf_token": _token(client)})
    assert deleted.status_code == 303 and _count(app) == 1
