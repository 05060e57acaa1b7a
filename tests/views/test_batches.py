"""Batch pages (batch.md §2–§4): roles, CSRF, 422 with the message under the field, 404s, and the
preview → confirm → summary → undo path over HTTP."""
import re

import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import Batch, Number
from did_app.numbers.row_actions import BATCH_ACTIONS, ROW_LABELS
from tests import factories as f
from tests.conftest import csrf_from, login


def _setup(app, count=2):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        ids = [f.make_number().id for _ in range(count)]
        return trunk.id, ids


def _token(client, path="/batches"):
    return csrf_from(client.get(path).get_data(as_text=True))


def _preview(client, trunk_id, ids, **extra):
    data = {"action": "voice_route", "ids": ",".join(map(str, ids)), "route": str(trunk_id),
            "csrf_token": _token(client), **extra}
    return client.post("/batches", data=data)


def _batch_id(response) -> int:
    return int(re.search(r"/batches/(\d+)", response.headers["Location"]).group(1))


def test_the_inputs_page_and_its_dialog_fragment(app, client):
    login(client, "operator")
    _, ids = _setup(app)
    page = client.get(f"/batches/new?action=voice_route&ids={ids[0]},{ids[1]}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "2 numbers selected" in html and "sip-main" in html
    fragment = client.get("/batches/new?action=voice_route&filter=status%3Dnot_configured",
                          headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'id="batch-form"' in fragment and "(all matching the filter)" in fragment
    chooser = client.get("/batches/new?ids=1,2")
    assert chooser.status_code == 200 and 'name="action"' in chooser.get_data(as_text=True)
    unknown = client.get("/batches/new?action=nope")
    assert unknown.status_code == 422 and "Choose an action from the list." in unknown.get_data(as_text=True)


def test_too_many_ids_are_refused_with_the_message(app, client):
    login(client, "operator")
    ids = ",".join(str(i) for i in range(1, 10_002))
    response = client.get(f"/batches/new?action=description&ids={ids}")
    assert response.status_code == 422
    assert "Select at most 10,000 rows one by one; use &#39;Select all matching&#39; for more." in \
        response.get_data(as_text=True)


def test_preview_confirm_summary_and_undo(app, client):
    login(client, "operator")
    trunk_id, ids = _setup(app)
    response = _preview(client, trunk_id, ids)
    assert response.status_code == 303
    batch_id = _batch_id(response)
    html = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    assert "2 will change" in html and "Route 2 numbers to sip-main?" in html and f"B-{batch_id:06d}" in html
    confirm = client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": _token(client)})
    assert confirm.status_code == 303
    html = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    assert "2 changed" in html and "Show these numbers" in html and "Undo…" in html
    again = client.post(f"/batches/{batch_id}/confirm", data={"csrf_token": _token(client)})
    assert again.status_code == 422 and "This batch is already being applied." in again.get_data(as_text=True)
    csv = client.get(f"/batches/{batch_id}/outcomes.csv").get_data(as_text=True)
    assert csv.splitlines()[0] == "number,outcome,reason,before,after" and csv.count("change") == 2
    assert "sip-main" in client.get(f"/batches/{batch_id}/undo").get_data(as_text=True)
    undo = client.post(f"/batches/{batch_id}/undo", data={"csrf_token": _token(client)})
    assert undo.status_code == 303
    with app.app_context():
        assert db.session.get(Batch, batch_id).status == "undone"
        assert db.session.scalar(sa.select(sa.func.count()).where(Number.voice_route_id.is_not(None))) == 0
    listed = client.post(f"/batches/{batch_id}/numbers", data={"csrf_token": _token(client)})
    assert listed.status_code == 303 and "/numbers?list=" in listed.headers["Location"]
    index = client.get("/batches").get_data(as_text=True)
    assert f"B-{batch_id:06d}" in index and "Undone" in index
    assert client.get("/batches?status=applied&action=undo").status_code == 200


def test_an_invalid_input_answers_422_under_its_field(app, client):
    login(client, "operator")
    _, ids = _setup(app)
    response = client.post("/batches", data={"action": "description", "ids": str(ids[0]), "description": "x" * 256,
                                             "csrf_token": _token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="description-error" class="field-error">Description must be at most 255 characters.', html)
    limit = client.post("/batches", data={"action": "capacity_limit", "ids": str(ids[0]), "capacity_limit": "0",
                                          "csrf_token": _token(client)}, headers={"HX-Request": "true"})
    assert limit.status_code == 422 and "<html" not in limit.get_data(as_text=True)
    assert "Enter a whole number from 1 to 32,767, or leave blank for no limit." in limit.get_data(as_text=True)
    route = client.post("/batches", data={"action": "voice_route", "ids": str(ids[0]), "route": "",
                                          "csrf_token": _token(client)})
    assert route.status_code == 422 and "Choose a route from the list." in route.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 0


def test_htmx_preview_redirects_the_whole_page(app, client):
    login(client, "operator")
    trunk_id, ids = _setup(app)
    response = client.post("/batches", data={"action": "voice_route", "ids": str(ids[0]), "route": str(trunk_id)},
                           headers={"HX-Request": "true", "X-CSRFToken": _token(client)})
    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith("/batches/")


def test_viewers_see_summaries_but_cannot_act(app, client):
    operator = app.test_client()
    login(operator, "operator")
    trunk_id, ids = _setup(app)
    batch_id = _batch_id(_preview(operator, trunk_id, ids))
    login(client, "viewer")
    html = client.get(f"/batches/{batch_id}").get_data(as_text=True)
    assert "Route 2 numbers to sip-main?" not in html and "2 will change" in html
    assert client.get("/batches").status_code == 200
    assert client.get("/batches/new?action=voice_route&ids=1").status_code == 403
    token = _token(client)
    for path in ("/batches", f"/batches/{batch_id}/confirm", f"/batches/{batch_id}/exclude-errors",
                 f"/batches/{batch_id}/undo"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert client.get(f"/batches/{batch_id}/undo").status_code == 403


def test_posts_without_a_csrf_token_are_refused(app, client):
    login(client, "operator")
    trunk_id, ids = _setup(app)
    assert client.post("/batches", data={"action": "voice_route", "ids": str(ids[0]),
                                         "route": str(trunk_id)}).status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Batch)) == 0


@pytest.mark.parametrize("method,path", [("GET", "/batches/999"), ("POST", "/batches/999/confirm"),
                                         ("GET", "/batches/999/undo"), ("POST", "/batches/999/undo"),
                                         ("GET", "/batches/999/outcomes.csv"),
                                         ("POST", "/batches/999/exclude-errors"), ("POST", "/batches/999/numbers")])
def test_an_unknown_batch_is_404(app, client, method, path):
    login(client, "admin")
    assert client.open(path, method=method, data={"csrf_token": _token(client)}).status_code == 404


@pytest.mark.parametrize("code", [code for code, _ in BATCH_ACTIONS if code != "export"])
def test_every_menu_action_opens_its_dialog(app, client, code):
    """The selection bar's and the row menus' codes are the engine's: each opens its inputs (a code
    the engine doesn't know would answer "Choose an action from the list.")."""
    login(client, "operator")
    with app.app_context():
        number_id = f.make_number().id
    response = client.get(f"/batches/new?action={code}&ids={number_id}")
    assert response.status_code == 200 and "Choose an action from the list." not in response.get_data(as_text=True)
    assert set(ROW_LABELS) - {"cnam_out", "emergency"} <= {c for c, _ in BATCH_ACTIONS}
