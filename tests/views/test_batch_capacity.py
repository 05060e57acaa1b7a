"""Capacity batch actions and Export over HTTP (batch.md §3): the inputs pages, 422 under the field,
and Export's CSV (numbers.md §7.8) for ids or the table's filter, viewers included."""
import csv
import io
import re
from datetime import timedelta

import sqlalchemy as sa

from did_app import clock
from did_app.db import db
from did_app.models import Number
from did_app.numbers.export import COLUMNS
from did_app.rules import status
from tests import factories as f
from tests.conftest import csrf_from, login


def _csv(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_export_downloads_the_selected_ids_as_the_numbers_csv(app, client):
    login(client, "viewer")
    with app.app_context():
        picked = [f.make_number(description="Front desk"), f.make_number()]
        other = f.make_number()
        ids, numbers, other_number = [n.id for n in picked], sorted(n.number for n in picked), other.number
    response = client.get(f"/batches/export.csv?ids={ids[0]},{ids[1]}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert tuple(rows[0]) == COLUMNS
    assert sorted(r[0] for r in rows[1:]) == numbers and other_number not in {r[0] for r in rows[1:]}


def test_export_of_a_filter_matches_the_table_export(app, client):
    login(client, "operator")
    with app.app_context():
        f.make_number(description="alpha one")
        f.make_number(description="beta")
    rows = _csv(client.get("/batches/export.csv?filter=q%3Dalpha"))
    assert rows[1:] == _csv(client.get("/numbers/export.csv?q=alpha"))[1:]


def test_the_menus_export_goes_straight_to_the_download(app, client):
    login(client, "viewer")
    response = client.get("/batches/new?action=export&ids=1,2")
    assert response.status_code == 303
    assert re.search(r"/batches/export\.csv\?.*ids=1(%2C|,)2", response.headers["Location"])
    htmx = client.get("/batches/new?action=export&filter=status%3Dactive", headers={"HX-Request": "true"})
    assert "/batches/export.csv" in htmx.headers["HX-Redirect"]
    assert client.get("/batches/new?action=capacity_group&ids=1").status_code == 403  # viewers only export


def _many_numbers(app, count: int) -> list[tuple[int, str]]:
    """`count` numbers inserted set-based: (id, number) in id order."""
    with app.app_context():
        rows = [dict(number=f"+1212{i:07d}", country="US", region="NY", city="New York", number_type="local",
                     features=1, capacity_mode="two_included", channels_included=2, monthly_price_minor=150,
                     expires_at=clock.now() + timedelta(days=20 + i % 7)) for i in range(count)]
        db.session.execute(sa.insert(Number), rows)
        status.recompute(sa.true())
        db.session.commit()
        return db.session.execute(sa.select(Number.id, Number.number).order_by(Number.id)).all()


def test_a_long_explicit_selection_exports_by_post_with_its_sort(app, client):
    """800 ids are a ~5 KB URL, past a request line's limit: the selection bar posts them instead
    (CSRF checked), sorted as the table was; the dialog's Export answers a post the same way."""
    login(client, "viewer")
    rows = _many_numbers(app, 801)
    picked, left_out = rows[:800], rows[800]
    ids = ",".join(str(r.id) for r in picked)
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    response = client.post("/batches/export.csv", data={"ids": ids, "sort": "-number", "csrf_token": token})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    exported = [r[0] for r in _csv(response)[1:]]
    assert exported == sorted((r.number for r in picked), reverse=True) and left_out.number not in exported
    by_dialog = client.post("/batches/new", data={"action": "export", "ids": ids, "csrf_token": token})
    assert by_dialog.status_code == 200 and len(_csv(by_dialog)) == 801
    assert client.post("/batches/export.csv", data={"ids": ids}).status_code == 400  # no CSRF token
    anonymous = app.test_client().post("/batches/export.csv", data={"ids": ids, "csrf_token": token})
    assert anonymous.status_code in (302, 303, 400, 401) and "text/csv" not in anonymous.content_type
    assert client.get(f"/batches/export.csv?ids={picked[0].id}").status_code == 200  # short: still a link


def test_an_unreadable_export_selection_goes_back_to_the_table(app, client):
    login(client, "viewer")
    response = client.get("/batches/export.csv?ids=abc")
    assert response.status_code == 303 and response.headers["Location"].endswith("/numbers")


def test_capacity_inputs_pages_and_messages_under_the_field(app, client):
    login(client, "operator")
    with app.app_context():
        pool = f.make_pool(name="p-main")
        f.make_capacity_group(pool=pool, name="g-main")
        pool_id, number_id = pool.id, f.make_number().id
    for code, text in (("capacity_group", "g-main"), ("dedicated", "p-main"), ("next_mode", "0 included")):
        page = client.get(f"/batches/new?action={code}&ids={number_id}")
        assert page.status_code == 200 and text in page.get_data(as_text=True)
    token = csrf_from(client.get("/batches").get_data(as_text=True))
    cases = [({"action": "dedicated", "pool_id": str(pool_id), "count": "99999"},
              "Enter a whole number of channels from 0 to 32,767."),
             ({"action": "dedicated", "pool_id": "", "count": "2"}, "Choose the pool the channels come from."),
             ({"action": "capacity_group", "group": ""}, "Choose a capacity group from the list."),
             ({"action": "next_mode", "next_capacity_mode": "zero_included", "next_monthly_price": ""},
              "Enter the monthly price from the next renewal."),
             ({"action": "next_mode", "next_capacity_mode": "metered"}, "Choose 2 included or 0 included.")]
    for data, message in cases:
        response = client.post("/batches", data={**data, "ids": str(number_id), "csrf_token": token})
        assert response.status_code == 422 and message in response.get_data(as_text=True), data
    ok = client.post("/batches", data={"action": "next_mode", "next_capacity_mode": "zero_included",
                                       "next_monthly_price": "1.20", "ids": str(number_id), "csrf_token": token})
    assert ok.status_code == 303
    summary = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "Switch 1 numbers to 0 included from their next renewal, at" in summary
