"""The notifications page and the bell (lifecycle.md §12 "In-app"): every role, newest first, the
kind filter, mark read (the row and the bell swap), mark all read (the bell goes to zero), and each
notification's link to exactly its numbers."""
import re

import pytest

from did_app.db import write_transaction
from did_app.models import Notification
from did_app.notifications.service import notify
from tests.conftest import csrf_from, login

BELL = re.compile(r'<li id="bell"[^>]*><a class="bell" href="/notifications" aria-label="([^"]+)"')


def _notify(app, kind="renewal_failed", numbers=("+14155550101", "+14155550102"), message=None, link=None):
    with app.app_context(), write_transaction() as session:
        note = notify(session, kind, list(numbers), message or f"{len(numbers)} numbers: {kind}.")
        if link:
            note.payload = {**note.payload, "link": link}
        return note.id, note.list_token


def _bell(html: str) -> str:
    match = BELL.search(html)
    assert match, "no bell in the page"
    return match.group(1)


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_sees_the_page_newest_first_and_the_bell(app, client, role):
    login(client, role)
    first, _ = _notify(app, message="The older one.")
    second, _ = _notify(app, "number_released", message="The newer one.")
    html = client.get("/notifications").get_data(as_text=True)
    assert html.index("The newer one.") < html.index("The older one.")
    assert "Numbers released" in html and "Renewal failed" in html
    assert _bell(html) == "2 unread notifications"
    assert _bell(client.get("/numbers").get_data(as_text=True)) == "2 unread notifications"
    assert html.count("Mark read") == 2


def test_empty_state_and_filter(app, client):
    login(client, "viewer")
    html = client.get("/notifications").get_data(as_text=True)
    assert "No notifications yet." in html and _bell(html) == "No unread notifications"
    _notify(app, message="Released ones.", kind="number_released")
    _notify(app, message="Failed ones.")
    only = client.get("/notifications?kind=number_released").get_data(as_text=True)
    assert "Released ones." in only and "Failed ones." not in only
    none = client.get("/notifications?kind=proof_expiring").get_data(as_text=True)
    assert "No notifications match this filter." in none


@pytest.mark.parametrize("query", ["kind=bogus", "kind=%00", "page=0", "page=99999999999999999999", "page=-1",
                                   "kind=" + "x" * 5000, "unread=maybe"])
def test_bad_filter_values_are_ignored_not_errors(app, client, query):
    login(client, "viewer")
    _notify(app, message="Still listed.")
    response = client.get(f"/notifications?{query}")
    assert response.status_code == 200
    assert "Still listed." in response.get_data(as_text=True) or "page=" in query


def test_the_fragment_is_the_table_with_the_bell_out_of_band(app, client):
    login(client, "viewer")
    _notify(app)
    body = client.get("/notifications?kind=renewal_failed", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert body.lstrip().startswith('<section id="notifications-table"')
    assert '<li id="bell" hx-swap-oob="true">' in body and "<header" not in body


def test_mark_read_swaps_the_row_and_the_bell(app, client):
    login(client, "operator")
    note_id, _ = _notify(app)
    _notify(app)
    token = csrf_from(client.get("/notifications").get_data(as_text=True))
    response = client.post(f"/notifications/{note_id}/read", headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="note-{note_id}" class="read">') and "Mark read" not in body
    assert _bell(body) == "1 unread notification"
    assert client.post(f"/notifications/{note_id}/read", headers={"X-CSRFToken": token}).status_code == 303
    assert client.post("/notifications/999999/read", headers={"X-CSRFToken": token}).status_code == 404


def test_mark_all_read_needs_csrf_and_zeroes_the_bell_for_this_user_only(app, client):
    login(client, "viewer")
    for _ in range(3):
        _notify(app)
    assert client.post("/notifications/read-all").status_code == 400  # no CSRF token
    token = csrf_from(client.get("/notifications").get_data(as_text=True))
    response = client.post("/notifications/read-all", headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert _bell(body) == "No unread notifications" and "Mark read" not in body
    classic = client.post("/notifications/read-all", data={"csrf_token": token})
    assert classic.status_code == 303 and classic.headers["Location"].endswith("/notifications")
    other = app.test_client()
    login(other, "admin")
    assert _bell(other.get("/notifications").get_data(as_text=True)) == "3 unread notifications"


def test_opening_a_notification_marks_it_read_and_leads_to_its_numbers(app, client):
    login(client, "viewer")
    note_id, list_token = _notify(app)
    response = client.get(f"/notifications/{note_id}/open")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/numbers?list={list_token}"
    assert _bell(client.get("/notifications").get_data(as_text=True)) == "No unread notifications"
    assert client.get("/notifications/999999/open").status_code == 404


def test_a_payload_link_leads_to_its_page(app, client):
    login(client, "viewer")
    note_id, _ = _notify(app, "low_balance_forecast", message="Balance runs out.", link="billing.forecast")
    assert client.get(f"/notifications/{note_id}/open").headers["Location"] == "/billing/forecast"
    bad, token = _notify(app, link="numbers.detail")  # needs arguments: falls back to the list
    assert client.get(f"/notifications/{bad}/open").headers["Location"] == f"/numbers?list={token}"
    with app.app_context():
        assert Notification.query.count() == 2


def test_signed_out_users_are_sent_to_login(app, client):
    note_id, _ = _notify(app)
    login(app.test_client(), "admin")  # a user exists, so the gatekeeper sends to login, not setup
    assert client.get("/notifications").status_code == 302
    assert client.get(f"/notifications/{note_id}/open").status_code == 302
