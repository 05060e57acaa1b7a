"""/numbers/import: roles, CSRF, file errors (422), the dry-run report, the import's redirect, the
stored report CSV and the background job with its htmx progress poll."""
import io
import os
import re
import time

import sqlalchemy as sa

from did_app.db import db
from did_app.models import Number, Order
from did_app.workspace import ensure_workspace
from tests.conftest import csrf_from, login

GOOD = "number,monthly_price,description\n+14155550101,1.00,first\n+14155550102,1.00,second\n"


def _balance(app, amount):
    with app.app_context():
        ensure_workspace(db.session).balance_minor = amount
        db.session.commit()


def _post(client, text, path="/numbers/import", dry_run=True, skip_existing=False, name="numbers.csv", **kw):
    token = csrf_from(client.get("/numbers/import").get_data(as_text=True))
    data = {"csrf_token": token, "file": (io.BytesIO(text.encode()), name)}
    if dry_run:
        data["dry_run"] = "y"
    if skip_existing:
        data["skip_existing"] = "y"
    return client.post(path, data=data, content_type="multipart/form-data", **kw)


def _numbers(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Number.id)))


def test_viewer_gets_403_and_operator_the_form(app, client):
    login(client, "viewer")
    assert client.get("/numbers/import").status_code == 403
    operator = app.test_client()
    login(operator, "operator")
    html = operator.get("/numbers/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and "Skip numbers already in the inventory" in html


def test_dry_run_is_checked_by_default(client):
    login(client, "operator")
    html = client.get("/numbers/import").get_data(as_text=True)
    checkbox = html[html.index('id="dry_run"') - 40: html.index('id="dry_run"') + 80]
    assert "checked" in checkbox
    skip = html[html.index('id="skip_existing"') - 40: html.index('id="skip_existing"') + 80]
    assert "checked" not in skip


def test_post_without_csrf_is_400(app, client):
    login(client, "operator")
    response = client.post("/numbers/import", data={"file": (io.BytesIO(GOOD.encode()), "n.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and _numbers(app) == 0


def test_file_errors_are_422_next_to_the_file_field(app, client):
    login(client, "operator")
    response = _post(client, "number,price\n+14155550101,1\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Unknown column &#39;price&#39;. Known columns: number, country," in html
    assert 'id="file-error"' in html and 'aria-invalid="true"' in html
    response = _post(client, "description\nx\n")
    assert response.status_code == 422 and "Missing required column &#39;number&#39;." in response.get_data(as_text=True)
    response = client.post("/numbers/import", data={"csrf_token": csrf_from(client.get("/numbers/import").get_data(as_text=True))},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file to import." in response.get_data(as_text=True)


def test_dry_run_shows_the_report_and_writes_nothing(app, client):
    _balance(app, 150)
    login(client, "operator")
    response = _post(client, GOOD + "+1415,1.00,bad\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>2 to add</strong>, 0 skipped, 1 with errors." in html
    assert "Charge $2.00 (setup $0.00 + first month $2.00). Balance $1.50" not in html
    assert "Balance $1.50 is short of $2.00." in html
    assert "&#39;+1415&#39; is not a valid phone number." in html
    assert "Download the full report (CSV)" in html
    assert _numbers(app) == 0


def test_import_redirects_to_the_new_order_with_a_flash(app, client):
    _balance(app, 1000)
    login(client, "operator")
    response = _post(client, GOOD, dry_run=False)
    assert response.status_code == 303
    with app.app_context():
        order = db.session.scalar(sa.select(Order))
        assert order.kind == "import" and order.number_count == 2
    assert response.headers["Location"].endswith(f"/numbers?order={order.reference}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Imported 2 numbers as {order.reference}. Charged $2.00." in page
    assert "+1 415-555-0101" in page and _numbers(app) == 2


def test_refused_import_is_422_with_the_report(app, client):
    _balance(app, 1000)
    login(client, "operator")
    response = _post(client, GOOD + "+14155550101,1.00,again\n", dry_run=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Fix the 1 row with errors; nothing was imported." in html and "same number as row 2." in html
    assert _numbers(app) == 0


def test_run_again_imports_the_stored_file_and_the_report_downloads(app, client):
    _balance(app, 1000)
    login(client, "operator")
    html = _post(client, GOOD).get_data(as_text=True)
    run_url = re.search(r'action="(/numbers/import/[^"]+/run)"', html).group(1)
    csv_url = re.search(r'href="(/numbers/import/[^"]+/report.csv)"', html).group(1)
    report = client.get(csv_url)
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert report.get_data(as_text=True).splitlines()[:2] == ["row,number,outcome,message", "2,+14155550101,add,"]
    token = csrf_from(html)
    response = client.post(run_url, data={"csrf_token": token})  # dry run unchecked
    assert response.status_code == 303 and "/numbers?order=ORD-" in response.headers["Location"]
    assert _numbers(app) == 2


def test_unknown_or_malformed_token_is_404(client):
    login(client, "operator")
    assert client.get("/numbers/import/not-a-token").status_code == 404
    assert client.get("/numbers/import/" + "a" * 22).status_code == 404
    assert client.get("/numbers/import/" + "a" * 22 + "/report.csv").status_code == 404


def test_large_file_runs_in_the_background_with_a_polled_progress_bar(app, client):
    app.config["IMPORT_BACKGROUND_ROWS"] = 1
    _balance(app, 1000)
    login(client, "operator")
    response = _post(client, GOOD, dry_run=False)
    assert response.status_code == 303
    show = response.headers["Location"]
    page = client.get(show).get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in page or "Import report" in page
    deadline = time.monotonic() + 20
    while True:
        poll = client.get(show, headers={"HX-Request": "true"})
        if "HX-Redirect" in poll.headers or time.monotonic() > deadline:
            break
        assert 'id="import-progress"' in poll.get_data(as_text=True)
        assert "<html" not in poll.get_data(as_text=True)
        time.sleep(0.05)
    assert poll.headers["HX-Redirect"].startswith("/numbers?order=ORD-")
    assert _numbers(app) == 2
    assert "Imported 2 numbers as ORD-" in client.get(poll.headers["HX-Redirect"]).get_data(as_text=True)


def test_background_dry_run_poll_ends_with_the_report_fragment(app, client):
    app.config["IMPORT_BACKGROUND_ROWS"] = 1
    login(client, "operator")
    show = _post(client, GOOD).headers["Location"]
    deadline = time.monotonic() + 20
    while True:
        body = client.get(show, headers={"HX-Request": "true"}).get_data(as_text=True)
        if 'id="import-report"' in body or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert 'id="import-report"' in body and "hx-trigger" not in body
    assert "<strong>2 to add</strong>" in body and _numbers(app) == 0


def test_progress_block_polls_every_500ms(app, client):
    from did_app.imports import store

    login(client, "operator")
    with app.test_request_context():
        token = store.new_token()
        store.write_state(token, {"filename": "big.csv", "dry_run": True, "skip_existing": False, "rows": 9000,
                                  "pid": os.getpid(), "state": "running", "phase": "check",
                                  "done": 3000, "total": 9000})
    html = client.get(f"/numbers/import/{token}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.startswith('<section id="import-progress"')
    assert 'hx-trigger="every 500ms"' in html and 'hx-swap="outerHTML"' in html
    assert '<progress value="3000" max="9000"' in html and "3,000 of 9,000 rows" in html
    # a job whose process is gone is reported, not polled for ever
    with app.test_request_context():
        store.write_state(token, {**store.state(token), "pid": 2 ** 22 + 7})
    html = client.get(f"/numbers/import/{token}").get_data(as_text=True)
    assert "stopped when the server restarted" in html and "every 500ms" not in html
