"""Server-side sessions, logout, "Sign out everywhere" and "must change password" (access.md §4, §5)."""
import re

import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.auth import service
from did_app.db import db
from did_app.models import AuditEvent, SavedList, User, UserSession
from tests.conftest import csrf_from, login

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a much better passphrase 42"
CLI = Actor(None, "cli", "cli")


def _form_login(client, email, password=PASSWORD):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


def _signed_in(app, email="op@example.com", role="operator"):
    """A user and a browser signed in through the login form (its one session)."""
    with app.app_context():
        service.create_user(CLI, email=email, display_name="Op", role=role, password=PASSWORD)
    client = app.test_client()
    assert _form_login(client, email).status_code == 302
    return client


def _copy(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _saved_lists(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SavedList))


def _logout(client):
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    return client.post("/logout", data={"csrf_token": token})


# ---- logout ---------------------------------------------------------------------------------------

def test_a_cookie_copied_before_logout_no_longer_reads_or_writes(app):
    client = _signed_in(app)
    thief = _copy(app, client)
    token = csrf_from(thief.get("/numbers").get_data(as_text=True))  # the copy works before logout
    response = _logout(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")

    read = thief.get("/numbers")
    assert read.status_code == 302 and "/login?next=/numbers" in read.headers["Location"]
    write = thief.post("/numbers/lists", data={"csrf_token": token, "q": "+14155552671"})
    assert write.status_code == 302 and "/login" in write.headers["Location"]
    hx_write = thief.post("/numbers/lists", data={"q": "+14155552671"},
                          headers={"HX-Request": "true", "X-CSRFToken": token,
                                   "HX-Current-URL": "http://localhost/numbers"})
    assert hx_write.status_code == 401 and hx_write.headers["HX-Redirect"].endswith("/login?next=/numbers")
    assert thief.get("/numbers/export.csv").status_code == 302
    assert _saved_lists(app) == 0
    with app.app_context():
        row = db.session.scalar(sa.select(UserSession))
        assert row.revoked_at is not None
        assert db.session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc())) == "user.logout"


def test_logout_leaves_the_users_other_sessions_signed_in(app):
    laptop = _signed_in(app)
    phone = app.test_client()
    assert _form_login(phone, "op@example.com").status_code == 302
    _logout(laptop)
    assert laptop.get("/numbers").status_code == 302
    assert phone.get("/numbers").status_code == 200
    token = csrf_from(phone.get("/numbers").get_data(as_text=True))
    assert phone.post("/numbers/lists", data={"csrf_token": token, "q": "+14155552671"}).status_code == 303
    assert _saved_lists(app) == 1


def test_logout_stays_post_only(app, client):
    login(client, "viewer")
    assert client.get("/logout").status_code == 405
    assert client.get("/numbers").status_code == 200


def test_a_forged_or_old_style_session_id_is_refused(app, client):
    user_id = login(client, "viewer")
    with app.app_context():
        version = db.session.get(User, user_id).session_version
    for value in (f"{user_id}:{version}", f"{user_id}:{version}:not-a-session-key", "x:y:z", "garbage"):
        with client.session_transaction() as sess:
            sess["_user_id"] = value
        assert client.get("/numbers").status_code == 302, value


def test_another_users_session_key_does_not_sign_in_as_someone_else(app):
    alice = app.test_client()
    login(alice, "viewer", email="alice@example.com")
    bob_id = login(app.test_client(), "admin", email="bob@example.com")
    with alice.session_transaction() as sess:
        _, _, key = sess["_user_id"].split(":")
    with app.app_context():
        version = db.session.get(User, bob_id).session_version
    with alice.session_transaction() as sess:
        sess["_user_id"] = f"{bob_id}:{version}:{key}"
    assert alice.get("/users").status_code == 302


def test_the_session_check_is_one_query_joining_user_and_session(app, client):
    """My Numbers is benchmarked per request: the loader reads user and session row in one query,
    and a signed-in request does not ask again whether any user exists."""
    login(client, "viewer")
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert client.get("/numbers").status_code == 200
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", seen)
    session_reads = [s for s in statements if "user_session" in s]
    assert len(session_reads) == 1 and re.search(r'FROM "?user"? JOIN user_session', session_reads[0])
    user_reads = [s for s in statements if re.search(r'FROM "?user"?\b', s) and "user_session" not in s]
    assert user_reads == []  # neither a second read of the user nor "does any user exist?"


# ---- sign out everywhere --------------------------------------------------------------------------

def test_the_profile_links_change_password_and_offers_sign_out_everywhere(app):
    client = _signed_in(app)
    html = client.get("/numbers").get_data(as_text=True)
    assert 'href="/account"' in html
    page = client.get("/account")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'href="/account/password"' in body and "Change password" in body
    assert 'action="/account/sign-out-everywhere"' in body and "Sign out everywhere" in body
    assert "1 session is signed in" in body


def test_sign_out_everywhere_ends_every_session_this_one_included(app):
    laptop = _signed_in(app)
    phone = app.test_client()
    assert _form_login(phone, "op@example.com").status_code == 302
    copy = _copy(app, laptop)
    assert "2 sessions are signed in" in laptop.get("/account").get_data(as_text=True)
    assert laptop.get("/account/sign-out-everywhere").status_code == 405
    token = csrf_from(laptop.get("/account").get_data(as_text=True))
    response = laptop.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    landed = laptop.get(response.headers["Location"])
    assert landed.status_code == 200 and "You are signed out everywhere" in landed.get_data(as_text=True)
    for browser in (laptop, phone, copy):
        assert browser.get("/numbers").status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(
            UserSession.revoked_at.is_(None))) == 0
        assert "user.signed_out_everywhere" in set(db.session.scalars(sa.select(AuditEvent.action)))
    assert _form_login(app.test_client(), "op@example.com").status_code == 302  # signing in again works


def test_sign_out_everywhere_needs_a_csrf_token(app):
    client = _signed_in(app)
    assert client.post("/account/sign-out-everywhere").status_code == 400
    assert client.get("/numbers").status_code == 200


# ---- session version ------------------------------------------------------------------------------

def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(app):
    laptop = _signed_in(app)
    phone = app.test_client()
    assert _form_login(phone, "op@example.com").status_code == 302
    token = csrf_from(laptop.get("/account/password").get_data(as_text=True))
    response = laptop.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                      "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert laptop.get("/numbers").status_code == 200
    assert phone.get("/numbers").status_code == 302


def test_a_role_change_ends_the_users_sessions(app):
    client = _signed_in(app)
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "op@example.com"))
        service.update_user(CLI, user_id, display_name="Op", role="viewer", active=True)
    assert client.get("/numbers").status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(
            UserSession.user_id == user_id, UserSession.revoked_at.is_(None))) == 0


# ---- must change password -------------------------------------------------------------------------

@pytest.fixture
def must_change(app):
    """An operator whose password an admin has reset, signed in with the temporary one."""
    login(app.test_client(), "admin", email="admin@example.com")
    user_id = login(app.test_client(), "operator", email="op@example.com")
    with app.app_context():
        temporary = service.reset_password(CLI, user_id)
    client = app.test_client()
    response = _form_login(client, "op@example.com", temporary)
    assert response.status_code == 302 and "/account/password" in response.headers["Location"]
    client.temporary = temporary
    return client


PAGES = ["/numbers", "/", "/numbers/add", "/billing", "/activity", "/orders", "/account",
         "/configuration/trunks"]
EXPORTS = ["/numbers/export.csv", "/activity/export.csv", "/billing/ledger.csv", "/billing/forecast.csv",
           "/billing/released.csv", "/numbers/import/sometoken/report.csv"]


@pytest.mark.parametrize("path", PAGES + EXPORTS)
def test_must_change_password_sends_every_page_and_export_to_the_form(app, must_change, path):
    response = must_change.get(path)
    assert response.status_code == 302, path
    assert response.headers["Location"].startswith("/account/password?next="), path


def test_must_change_password_answers_htmx_with_401_and_hx_redirect(app, must_change):
    response = must_change.get("/numbers?status=active", headers={
        "HX-Request": "true", "HX-Current-URL": "http://localhost/numbers?status=active"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/account/password?next=/numbers"


def test_must_change_password_refuses_writes_and_writes_nothing(app, must_change):
    token = csrf_from(must_change.get("/account/password").get_data(as_text=True))
    response = must_change.post("/numbers/lists", data={"csrf_token": token, "q": "+14155552671"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/password")
    hx = must_change.post("/numbers/lists", data={"q": "+14155552671"}, headers={
        "HX-Request": "true", "X-CSRFToken": token, "HX-Current-URL": "http://localhost/numbers"})
    assert hx.status_code == 401 and hx.headers["HX-Redirect"] == "/account/password?next=/numbers"
    everywhere = must_change.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert everywhere.status_code == 302 and everywhere.headers["Location"].startswith("/account/password")
    assert _saved_lists(app) == 0


def test_must_change_password_leaves_the_form_logout_health_and_static_open(app, must_change):
    page = must_change.get("/account/password?next=/numbers")
    assert page.status_code == 200 and "Choose a new password before you continue." in page.get_data(as_text=True)
    assert must_change.get("/healthz").status_code == 200
    assert must_change.get("/static/app.css").status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    changed = must_change.post("/account/password?next=/numbers", data={
        "csrf_token": token, "current": must_change.temporary, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert changed.status_code == 302 and changed.headers["Location"] == "/numbers"
    assert must_change.get("/numbers").status_code == 200
    assert must_change.get("/numbers/export.csv").status_code == 200


def test_must_change_password_can_still_sign_out(app, must_change):
    token = csrf_from(must_change.get("/account/password").get_data(as_text=True))
    response = must_change.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "/login" in must_change.get("/numbers").headers["Location"]


def test_a_generated_password_must_be_changed_too(app):
    login(app.test_client(), "admin", email="admin@example.com")
    with app.app_context():
        _, generated = service.create_user(CLI, email="new@example.com", display_name="New", role="viewer")
    client = app.test_client()
    _form_login(client, "new@example.com", generated)
    assert client.get("/billing").headers["Location"] == "/account/password?next=/billing"


# ---- housekeeping ---------------------------------------------------------------------------------

def test_housekeeping_purges_session_rows_ended_more_than_30_days_ago(app, clock):
    from did_app.numbers.jobs import purge_expired_rows

    old = _signed_in(app)
    _logout(old)
    live = app.test_client()
    assert _form_login(live, "op@example.com").status_code == 302
    clock.advance(days=31)
    fresh = app.test_client()
    assert _form_login(fresh, "op@example.com").status_code == 302
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(UserSession))
        purge_expired_rows()
        after = db.session.scalar(sa.select(sa.func.count()).select_from(UserSession))
    # gone: the one logged out 31 days ago; kept: `live` (expired only 17 days ago) and `fresh`
    assert (before, after) == (3, 2)
    clock.advance(days=14)
    with app.app_context():
        purge_expired_rows()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 1
    assert fresh.get("/numbers").status_code == 302  # 14 days after its login
