"""Adding numbers, port-in requests and orders over HTTP: roles, 422 next to the field, page vs
fragment, the PRG / HX-Redirect ends, 409 on a stale request."""
import html
import re

import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import LedgerEntry, Number, Order, PortInRequest, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import csrf_from, login

RANGE = {"tab": "range", "first": "+14155550100", "last": "+14155550104", "monthly_price": "1.50",
         "setup_price": "0.50", "features": "voice_in", "allow_additional_channels": "y", "channels_included": "300"}
PORT = {"numbers": "+14155550201\n+14155550202", "losing_carrier": "Old Telco", "monthly_price": "1.50",
        "setup_price": "0.50", "features": "voice_in", "allow_additional_channels": "y", "channels_included": "300"}


@pytest.fixture
def funded(app):
    with app.app_context():
        ensure_workspace(db.session).balance_minor = 10_000
        db.session.commit()


def _token(client, path="/numbers"):
    return csrf_from(client.get(path).get_data(as_text=True))


def _post(client, path, data, **kw):
    return client.post(path, data={"csrf_token": _token(client), **data}, **kw)


def _count(app, model, *where):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _error(page: str, field: str) -> str:
    m = re.search(rf'id="{field}-error" class="field-error">([^<]*)<', page)
    return html.unescape(m.group(1)) if m else ""


# ---- roles ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/numbers/add", "/port-ins/new"])
def test_viewers_cannot_open_the_add_forms(app, client, path):
    login(client, "viewer")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/numbers/add/preview", "/numbers/add/confirm", "/port-ins"])
def test_viewers_cannot_post_and_nothing_is_written(app, client, funded, path):
    login(client, "viewer")
    assert _post(client, path, RANGE | PORT).status_code == 403
    assert _count(app, Number) == 0 and _count(app, Order) == 0


def test_viewers_read_orders_and_port_ins(app, client, funded):
    admin = app.test_client()
    login(admin, "admin")
    assert _post(admin, "/numbers/add/confirm", RANGE | {"expected": "5"}).status_code == 303
    assert _post(admin, "/port-ins", PORT).status_code == 303
    login(client, "viewer")
    for path in ("/orders", "/orders/ORD-000001", "/port-ins", "/port-ins/PI-000001"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Add numbers" not in response.get_data(as_text=True) or path != "/orders"
    page = client.get("/port-ins/PI-000001").get_data(as_text=True)
    assert "Cancel request" not in page and "Remove the selected numbers" not in page


# ---- step 1: the form ----------------------------------------------------------------------

def test_the_form_is_a_page_and_its_tabs_are_fragments(app, client, rendered):
    login(client, "operator")
    page = client.get("/numbers/add").get_data(as_text=True)
    assert "<html" in page and 'id="number"' in page and 'id="monthly_price"' in page
    response = client.get("/numbers/add?tab=range", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="add-input"' in body and 'id="first"' in body and 'id="monthly_price"' not in body
    assert re.search(r'href="/numbers/add\?tab=range"[^>]*aria-current="page"', body)
    assert rendered[-1] == ("intake/add.html", ["add_input"])


def test_refusals_come_back_next_to_their_field_with_422(app, client, funded):
    login(client, "operator")
    response = _post(client, "/numbers/add/preview", RANGE | {"monthly_price": ""})
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "monthly_price") == "Enter a monthly price, e.g. 1.50."
    response = _post(client, "/numbers/add/preview", RANGE | {"last": "+442071838750"})
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "last") == "First and last must have the same country code and length."
    response = _post(client, "/numbers/add/preview", RANGE | {"last": "+14155560100"},
                     headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in body and 'id="add-flow"' in body
    assert _error(body, "last") == "A range can hold at most 10,000 numbers."
    assert _count(app, Number) == 0


# ---- step 2: the preview -------------------------------------------------------------------

def test_preview_shows_summary_rows_and_disables_confirm_on_errors(app, client, funded):
    with app.app_context():
        f.make_number(number="+14155550101")
    login(client, "operator")
    data = RANGE | {"tab": "list", "numbers": "+14155550101\nnope\n+14155550102"}
    body = _post(client, "/numbers/add/preview", data).get_data(as_text=True)
    assert "1 to add, 1 skipped, 1 with errors. Charge $2.00 (setup $0.50 + first month $1.50). " \
           "Balance $100.00 → $98.00." in body
    assert "skip — already in the inventory" in body and "error — not a valid number" in body
    assert "Fix the 1 number with errors." in body
    assert re.search(r'<button type="submit" hx-post="/numbers/add/confirm"[^>]*\sdisabled', body)
    # every input travels to the confirm as a hidden copy
    assert '<input type="hidden" name="numbers" value="+14155550101\nnope\n+14155550102">' in body
    assert '<input type="hidden" name="expected" value="1">' in body


def test_single_number_location_is_editable_in_step_2(app, client, funded):
    login(client, "operator")
    data = RANGE | {"tab": "single", "number": "(415) 555-2671"}
    body = _post(client, "/numbers/add/preview", data).get_data(as_text=True)
    assert re.search(r'id="country"[^>]*value="US"', body) and re.search(r'id="city"[^>]*value="San Francisco"', body)
    response = _post(client, "/numbers/add/preview", data | {"located": "1", "country": "GB", "region": "", "city": "X"})
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "country") == "Country GB does not match +1."


# ---- step 3: the confirm -------------------------------------------------------------------

def test_confirm_adds_charges_and_redirects_to_the_order(app, client, funded):
    login(client, "operator")
    response = _post(client, "/numbers/add/confirm", RANGE | {"expected": "5"})
    assert response.status_code == 303 and response.headers["Location"] == "/numbers?order=ORD-000001"
    assert "5 numbers added (ORD-000001)." in client.get("/numbers?order=ORD-000001").get_data(as_text=True)
    assert _count(app, Number) == 5 and _count(app, LedgerEntry, LedgerEntry.kind == "add_charge") == 5
    with app.app_context():
        assert db.session.scalar(sa.select(Workspace.balance_minor)) == 10_000 - 5 * 200


def test_confirm_over_htmx_answers_with_hx_redirect(app, client, funded):
    login(client, "operator")
    response = _post(client, "/numbers/add/confirm", RANGE | {"expected": "5"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/numbers?order=ORD-000001"


def test_a_number_added_meanwhile_is_shown_on_the_preview(app, client, funded, clock):
    login(client, "operator")
    clock.advance(seconds=1)
    with app.app_context():
        f.make_number(number="+14155550102", created_at=clock.now())
    response = _post(client, "/numbers/add/confirm", RANGE | {"expected": "5"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "+14155550102 was added by someone else meanwhile. Review again." in body
    assert "4 to add, 1 skipped, 0 with errors." in body and _count(app, Order) == 0


# ---- port-in requests ----------------------------------------------------------------------

def _port_in(app, client):
    assert _post(client, "/port-ins", PORT).status_code == 303
    with app.app_context():
        return db.session.scalar(sa.select(PortInRequest.version))


def test_port_in_form_refuses_next_to_the_field(app, client, funded):
    login(client, "operator")
    response = _post(client, "/port-ins", PORT | {"losing_carrier": "", "numbers": "nope"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and _error(body, "losing_carrier") == "Enter the losing carrier."
    response = _post(client, "/port-ins", PORT | {"numbers": "nope"})
    assert _error(response.get_data(as_text=True), "numbers") == "Not valid phone numbers: 'nope'."
    assert _count(app, PortInRequest) == 0


def test_operator_moves_are_limited_and_admin_completes(app, client, funded):
    login(client, "operator")
    version = _port_in(app, client)
    page = client.get("/port-ins/PI-000001").get_data(as_text=True)
    assert "Cancel request" in page and "Move to In progress" not in page and "Complete and charge" not in page
    response = _post(client, "/port-ins/PI-000001/status", {"target": "in_progress", "version": version})
    assert response.status_code == 403
    response = _post(client, "/port-ins/PI-000001/status", {"target": "cancelled", "version": version, "comment": ""})
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "comment") == "Enter a comment: it is required for Cancelled."

    admin = app.test_client()
    login(admin, "admin")
    page = admin.get("/port-ins/PI-000001").get_data(as_text=True)
    assert "Complete and charge $4.00" in page and "Move to In progress" in page
    response = _post(admin, "/port-ins/PI-000001/status", {"target": "completed", "version": version})
    assert response.status_code == 303
    with app.app_context():
        assert set(db.session.scalars(sa.select(Number.porting))) == {False}
        assert db.session.scalar(sa.select(Workspace.balance_minor)) == 10_000 - 400
    # a form rendered before the completion is stale now
    response = _post(admin, "/port-ins/PI-000001/status", {"target": "cancelled", "version": version, "comment": "x"})
    assert response.status_code == 409


def test_port_in_text_is_escaped(app, client, funded):
    login(client, "operator")
    _post(client, "/port-ins", PORT | {"losing_carrier": "<script>alert(1)</script>"})
    body = client.get("/port-ins/PI-000001").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# ---- orders --------------------------------------------------------------------------------

def test_orders_list_filters_and_order_page_shows_the_charge(app, client, funded, rendered):
    login(client, "admin")
    _post(client, "/numbers/add/confirm", RANGE | {"expected": "5", "order_reference": "PO-9"})
    _port_in(app, client)
    listing = client.get("/orders").get_data(as_text=True)
    assert "ORD-000001" in listing and "ORD-000002" in listing and "PI-000001" in listing
    response = client.get("/orders?kind=port_in", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and "ORD-000002" in body and "ORD-000001" not in body
    assert rendered[-1] == ("intake/orders.html", ["results"])
    assert "ORD-000001" in client.get("/orders?q=po-9").get_data(as_text=True)
    page = client.get("/orders/ORD-000001").get_data(as_text=True)
    assert "<strong>$10.00</strong>" in page and 'href="/numbers?order=ORD-000001"' in page
    assert client.get("/orders/ORD-999999").status_code == 404


def test_list_mode_reads_tel_entries_and_reports_a_spaced_number_as_one_item(app, client, funded):
    login(client, "operator")
    data = RANGE | {"tab": "list", "numbers": "Number\ntel:+1 415 555 0101\n+1 512 240 772"}
    body = _post(client, "/numbers/add/preview", data).get_data(as_text=True)
    assert "1 to add, 0 skipped, 2 with errors." in body
    rows = re.findall(r'<tr class="outcome-(\w+)">\s*<th scope="row"[^>]*>(.*?)</th>', body)
    assert rows == [("error", "<code>Number</code>"), ("error", "<code>+1 512 240 772</code>"),
                    ("add", "+1 415-555-0101")]


def test_a_paste_over_1_mb_is_refused_next_to_the_field_and_not_echoed(app, client, funded):
    login(client, "operator")
    huge = "+14155550101\n" * 90_000  # 1.17 MB
    response = _post(client, "/numbers/add/preview", RANGE | {"tab": "list", "numbers": huge})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _error(page, "numbers") == "The pasted text is larger than 1 MB. Paste at most 10,000 numbers."
    assert len(page) < 200_000
    assert _count(app, Number) == 0
