"""Paid and destructive batch pages (batch.md §2, §3): the typed confirmation of Cancel over 10
numbers (422 with the message under the field), and the cost line of a paid preview."""
import re

import sqlalchemy as sa

from did_app import filters
from did_app.db import db
from did_app.lifecycle.service import renew_quote
from did_app.models import Batch, Number, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import csrf_from, login


def _numbers(app, count, balance=0):
    with app.app_context():
        ensure_workspace(db.session)
        db.session.execute(sa.update(Workspace).values(balance_minor=balance))
        db.session.commit()
        return [f.make_number().id for _ in range(count)]


def _preview(client, action, ids, **extra):
    token = csrf_from(client.get("/batches").get_data(as_text=True))
    response = client.post("/batches", data={"action": action, "ids": ",".join(map(str, ids)),
                                             "csrf_token": token, **extra})
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    return int(re.search(r"/batches/(\d+)", response.headers["Location"]).group(1))


def test_cancel_over_ten_numbers_asks_for_the_count_typed(app, client):
    login(client, "operator")
    ids = _numbers(app, 11)
    batch_id = _preview(client, "cancel", ids)
    page = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    assert "Type 11 to confirm" in page and 'name="typed_count"' in page
    token = csrf_from(page)
    wrong = client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": token, "typed_count": "10"})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422
    assert re.search(r'id="typed-count-error" class="field-error">Type 11 to confirm\.', html)
    with app.app_context():
        assert db.session.get(Batch, batch_id).status == "previewed"
        assert db.session.scalar(sa.select(sa.func.count()).where(Number.cancelled_at.is_not(None))) == 0
    right = client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": token, "typed_count": "11"})
    assert right.status_code in (302, 303)
    with app.app_context():
        assert db.session.get(Batch, batch_id).status == "applied"


def test_ten_numbers_need_no_typing(app, client):
    login(client, "operator")
    batch_id = _preview(client, "cancel", _numbers(app, 10))
    page = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    assert 'name="typed_count"' not in page
    response = client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": csrf_from(page)})
    assert response.status_code in (302, 303)


def test_a_paid_preview_shows_cost_and_balance_and_a_short_balance(app, client):
    login(client, "operator")
    ids = _numbers(app, 2, balance=1000)
    page = client.get(f"/batches/{_preview(client, 'renew', ids, months='1')}").get_data(as_text=True)
    assert "Cost $3.00" in page and "Balance $10.00 → $7.00" in page
    assert "Renew 2 numbers for 1 months for $3.00? Balance after: $7.00." in page
    short = client.get(f"/batches/{_preview(client, 'renew', ids, months='12')}").get_data(as_text=True)
    assert "Balance $10.00 is short of $36.00." in short and "Cost $36.00" not in short


def test_months_are_checked_with_the_message_under_the_field(app, client):
    login(client, "operator")
    ids = _numbers(app, 1)
    token = csrf_from(client.get("/batches").get_data(as_text=True))
    response = client.post("/batches", data={"action": "renew", "ids": str(ids[0]), "months": "2",
                                              "csrf_token": token})
    assert response.status_code == 422 and "Choose 1, 3, 6, 12 or 24 months." in response.get_data(as_text=True)


def test_a_viewer_cannot_confirm(app, client):
    login(client, "operator")
    batch_id = _preview(client, "cancel", _numbers(app, 1))
    client.get("/logout")
    login(client, "viewer")
    page = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    response = client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 403


def test_a_renew_preview_shows_before_and_after_expiry(app, client):
    login(client, "operator")
    ids = _numbers(app, 1, balance=1000)
    page = client.get(f"/batches/{_preview(client, 'renew', ids, months='1')}").get_data(as_text=True)
    with app.app_context():
        number = db.session.get(Number, ids[0])
        before = filters.fmt_date(number.expires_at)
        after = filters.fmt_date(renew_quote(number, 1, db.session.scalars(sa.select(Workspace)).first()).new_expires_at)
    assert before != after
    assert f"Expires: {before} → {after}" in page
