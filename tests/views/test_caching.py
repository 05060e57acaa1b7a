"""Cache-Control (issue 8 §4): every signed-in page and fragment and every CSV is `no-store`, so
neither a shared cache nor the browser keeps a copy after logout; static files, /healthz and the
login page keep normal caching."""
import io
import re

import pytest

from did_app.db import db
from did_app.workspace import ensure_workspace
from tests.conftest import csrf_from, login

CSVS = ["/numbers/export.csv", "/activity/export.csv", "/billing/ledger.csv", "/billing/forecast.csv",
        "/billing/released.csv"]


def _no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


@pytest.fixture
def admin(app):
    client = app.test_client()
    login(client, "admin")
    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
    return client


def test_every_signed_in_page_without_arguments_is_no_store(app, admin):
    skip = {"static", "health.healthz", "health.favicon", "auth.login", "auth.setup"}
    paths = sorted(r.rule for r in app.url_map.iter_rules()
                   if "GET" in r.methods and not r.arguments and r.endpoint not in skip)
    assert len(paths) > 20
    cached = [p for p in paths if not _no_store(admin.get(p))]
    assert cached == []


@pytest.mark.parametrize("path", CSVS)
def test_every_csv_is_no_store(admin, path):
    response = admin.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert _no_store(response)


def test_the_import_report_csv_is_no_store(app, admin):
    token = csrf_from(admin.get("/numbers/import").get_data(as_text=True))
    html = admin.post("/numbers/import", data={"csrf_token": token, "dry_run": "y", "file": (
        io.BytesIO(b"number,monthly_price\n+14155550101,1.00\n"), "n.csv")},
        content_type="multipart/form-data").get_data(as_text=True)
    report = admin.get(re.search(r'href="(/numbers/import/[^"]+/report.csv)"', html).group(1))
    assert report.status_code == 200 and report.headers["Cache-Control"] == "no-store"


def test_fragments_redirects_and_error_pages_of_a_signed_in_user_are_no_store(admin):
    assert _no_store(admin.get("/numbers", headers={"HX-Request": "true"}))
    assert _no_store(admin.get("/numbers/19999999999"))  # 404
    assert _no_store(admin.get("/"))


def test_static_files_health_and_login_keep_normal_caching(app, admin):
    anonymous = app.test_client()
    for client in (anonymous, admin):
        assert not _no_store(client.get("/static/app.css"))
        assert not _no_store(client.get("/healthz"))
        assert not _no_store(client.get("/favicon.ico"))
    login_page = anonymous.get("/login")
    assert login_page.status_code == 200 and not _no_store(login_page)


def test_login_seen_signed_in_and_the_redirect_that_signs_in_are_no_store(app, admin):
    assert _no_store(admin.get("/login"))
    with app.app_context():
        from did_app.audit import Actor
        from did_app.auth import service

        service.create_user(Actor(None, "cli", "cli"), email="ada@example.com", display_name="Ada",
                            role="viewer", password="correct horse battery staple")
    browser = app.test_client()
    token = csrf_from(browser.get("/login").get_data(as_text=True))
    signed_in = browser.post("/login", data={"csrf_token": token, "email": "ada@example.com",
                                             "password": "correct horse battery staple"})
    assert signed_in.status_code == 302 and _no_store(signed_in)
