"""The requirements pages over HTTP (registration.md §2, access.md §2): everyone reads, admins
write; 422 next to the field, 409 on a stale edit, the (*, *) refusal, page vs fragment."""
import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db
from did_app.models import AuditEvent, Requirement
from did_app.registration import service
from tests.conftest import csrf_from, login

CLI = Actor(None, "cli", "cli")
REQ = "/registration/requirements"
FIELDS = {"registration_required": "y", "identity_type": "any", "address_area": "country",
          "personal_proofs": "1", "business_proofs": "1", "address_proofs": "1"}


@pytest.fixture
def ids(app):
    with app.app_context():
        de = service.create_requirement(CLI, country="DE", number_type="local", registration_required=True,
                                        identity_type="business", address_area="city", personal_proofs=0,
                                        business_proofs=2, address_proofs=1)
        fallback = db.session.scalar(sa.select(Requirement.id).where(Requirement.country == "*",
                                                                     Requirement.number_type == "*"))
        return dict(de=de.id, fallback=fallback)


def _count(app, model=Requirement) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _token(client, path=REQ) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_everyone_reads_and_only_admins_write(app, client, ids, role):
    login(client, role)
    page = client.get(REQ)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "(country, type) → (country, *) → (*, type) → (*, *)" in html
    assert "(DE, local)" in html and "New requirement" not in html
    shown = client.get(f"{REQ}/{ids['de']}").get_data(as_text=True)
    assert "Delete requirement" not in shown and "Edit requirement" not in shown
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    assert client.get(f"{REQ}/new").status_code == 403
    assert client.post(REQ, data={"csrf_token": token, "country": "FR", "number_type": "*", **FIELDS}).status_code == 403
    assert client.post(f"{REQ}/{ids['de']}", data={"csrf_token": token, **FIELDS, "version": "1"}).status_code == 403
    assert client.post(f"{REQ}/{ids['de']}/delete", data={"csrf_token": token}).status_code == 403
    assert _count(app) == 4


def test_anonymous_goes_to_login(app, client, ids):
    login(app.test_client(), "admin")  # a user exists: not the first run
    response = client.get(REQ)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_filters_by_country_and_type_and_answer_htmx_with_the_list(app, client, ids, rendered):
    login(client, "viewer")

    def listed(**args) -> str:
        html = client.get(REQ, query_string=args).get_data(as_text=True)
        return html[html.index('id="requirement-list"'):]
    html = listed(country="de")
    assert "(DE, local)" in html and "(*, *)" not in html
    html = listed(country="*", type="toll_free")
    assert "(*, toll_free)" in html and "(*, global)" not in html and "(DE, local)" not in html
    fragment = client.get(REQ, query_string={"country": "DE"}, headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'id="requirement-list"' in text and "(DE, local)" in text


def test_admin_creates_a_row_and_sees_it_with_history(app, client, ids):
    login(client, "admin")
    assert client.get(f"{REQ}/new").status_code == 200
    response = client.post(REQ, data={"csrf_token": _token(client), "country": "fr", "number_type": "mobile",
                                      **FIELDS, "personal_mandatory_fields": ["birth_date"],
                                      "restriction_message": "No call centres"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Requirement (FR, mobile) created." in page
    assert "requirement.created" in page and "No call centres" in page and "Birth date" in page


@pytest.mark.parametrize("data,field_id,message", [
    ({"country": "DE", "number_type": "local"}, "country-error", "A requirement for (DE, local) exists already."),
    ({"country": "ZZ", "number_type": "local"}, "country-error", service.COUNTRY_MESSAGE),
    ({"country": "FR", "number_type": "fax"}, "number_type-error", service.TYPE_MESSAGE),
    ({"country": "FR", "number_type": "*", "personal_proofs": "6"}, "personal_proofs-error", "Enter 0–5 proofs."),
    ({"country": "FR", "number_type": "*", "identity_type": "robot"}, "identity_type-error",
     "Choose any, personal or business."),
    ({"country": "FR", "number_type": "*", "restriction_message": "x" * 1001}, "restriction_message-error",
     "Restriction message must be at most 1,000 characters."),
])
def test_refused_creates_answer_422_under_the_field(app, client, ids, data, field_id, message):
    login(client, "admin")
    before = _count(app, AuditEvent)
    response = client.post(REQ, data={"csrf_token": _token(client), **FIELDS, **data})
    assert response.status_code == 422
    assert f'id="{field_id}" class="field-error">{message}' in response.get_data(as_text=True)
    assert _count(app, AuditEvent) == before and _count(app) == 4


def test_update_saves_and_a_stale_version_answers_409(app, client, ids):
    login(client, "admin")
    path = f"{REQ}/{ids['de']}"
    token = _token(client, path)
    saved = client.post(path, data={"csrf_token": token, **FIELDS, "business_proofs": "3", "version": "1"})
    assert saved.status_code == 303
    stale = client.post(path, data={"csrf_token": token, **FIELDS, "business_proofs": "4", "version": "1"})
    assert stale.status_code == 409
    assert "changed by someone else" in stale.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Requirement, ids["de"]).business_proofs == 3


def test_the_fallback_delete_is_refused_next_to_the_button(app, client, ids):
    login(client, "admin")
    path = f"{REQ}/{ids['fallback']}"
    before = _count(app, AuditEvent)
    response = client.post(f"{path}/delete", data={"csrf_token": _token(client, path)})
    assert response.status_code == 422
    assert "it can be edited but not deleted." in response.get_data(as_text=True)
    assert _count(app) == 4 and _count(app, AuditEvent) == before


def test_delete_removes_a_row(app, client, ids):
    login(client, "admin")
    path = f"{REQ}/{ids['de']}"
    response = client.post(f"{path}/delete", data={"csrf_token": _token(client, path)})
    assert response.status_code == 303 and response.headers["Location"].endswith(REQ)
    assert _count(app) == 3
