"""NUL never reaches a field: dropped from every query and form value (issue 8 §3; PostgreSQL refuses it)."""
import sqlalchemy as sa

from did_app.db import db
from did_app.http_request import NulFreeMultiDict
from did_app.models import AuditEvent, LoginAttempt
from tests.conftest import csrf_from, login

PASSWORD = "correct horse battery staple"


def test_the_value_store_drops_nul_from_keys_and_values_of_every_shape():
    assert NulFreeMultiDict([("a\x00", "x\x00y"), ("a", "z")]).getlist("a") == ["xy", "z"]
    assert NulFreeMultiDict({"k": ["1\x00", "2"]}).getlist("k") == ["1", "2"]
    assert NulFreeMultiDict({"k": "v\x00"})["k"] == "v"
    assert NulFreeMultiDict().to_dict() == {}


def test_a_nul_in_the_login_form_is_an_ordinary_failed_login(app, client):
    login(app.test_client(), "admin", email="admin@example.com")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=%00", data={"csrf_token": token, "email": "admin@example.com\x00",
                                                    "password": "wrong password\x00 here"})
    assert response.status_code == 422
    assert "Email or password is incorrect." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(LoginAttempt.email)) == "admin@example.com"


def test_a_nul_in_a_query_value_is_dropped_before_the_filter_reads_it(app, client):
    login(client, role="viewer")
    response = client.get("/activity?action=user.created%00")
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) >= 1
