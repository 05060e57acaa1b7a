"""Billing pages over HTTP: roles, money forms (422 in place, nothing written), ledger filters and
fragments, per-number totals, forecast, released numbers and the CSV exports."""
import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask import render_template
from flask_login import login_user

from did_app.audit import Actor
from did_app.billing import service
from did_app.db import db
from did_app.lifecycle import ledger, release
from did_app.models import AuditEvent, LedgerEntry, User, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import T0, csrf_from, login

CLI = Actor(None, "cli", "cli")
PAGES = ["/billing", "/billing/numbers", "/billing/forecast", "/billing/released"]
CSVS = ["/billing/ledger.csv", "/billing/forecast.csv", "/billing/released.csv"]


def _client(app, role):
    client = app.test_client()
    login(client, role)
    return client


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _balance(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Workspace.balance_minor))


@pytest.fixture
def admin(app):
    return _client(app, "admin")


def _post(client, url, data):
    token = csrf_from(client.get("/billing").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


# ---- roles ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads_every_billing_page_and_export(app, role):
    client = _client(app, role)
    for url in PAGES + CSVS:
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get("/billing").get_data(as_text=True)
    assert ("Add to balance" in page) is (role == "admin")
    assert ("Adjust balance" in page) is (role == "admin")


@pytest.mark.parametrize("url", ["/billing/top-up", "/billing/adjustments"])
def test_an_operator_cannot_move_money(app, url):
    client = _client(app, "operator")
    response = _post(client, url, {"top_up-amount": "10.00", "adjust-amount": "10.00", "adjust-note": "x"})
    assert response.status_code == 403
    assert _balance(app) == 0


# ---- top-up and adjustment --------------------------------------------------------------------

def test_admin_tops_up_and_the_page_shows_the_new_balance(app, admin):
    response = _post(admin, "/billing/top-up", {"top_up-amount": "250.00", "top_up-note": "Wire 0042"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/billing")
    page = admin.get("/billing").get_data(as_text=True)
    assert "Added $250.00. Balance $250.00." in page
    assert re.search(r'id="balance-amount">\$250\.00<', page)
    assert "Wire 0042" in page
    assert _balance(app) == 25_000


@pytest.mark.parametrize("amount,message", [
    ("12.345", "Use at most 2 decimal places."),
    ("ten", "Enter an amount such as 12.50."),
    ("", "Enter an amount, e.g. 250.00."),
    ("0", "Enter an amount from 0.01 to 1,000,000.00."),
    ("1000000.01", "Enter an amount from 0.01 to 1,000,000.00."),
])
def test_a_bad_top_up_amount_is_422_next_to_the_field_and_writes_nothing(app, admin, amount, message):
    response = _post(admin, "/billing/top-up", {"top_up-amount": amount})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<small id="top_up-amount-error" class="field-error">{message}</small>' in html
    assert 'aria-invalid="true"' in html
    with app.app_context():
        assert _count(LedgerEntry) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action.like("balance.%"))) == 0


def test_an_adjustment_below_zero_is_refused_in_place(app, admin):
    with app.app_context():
        service.top_up(CLI, 1_000)
    response = _post(admin, "/billing/adjustments", {"adjust-amount": "-10.01", "adjust-note": "Fee"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="adjust-amount-error" class="field-error">The balance is \$10\.00: an adjustment '
                     r'of -\$10\.01 would make it negative\.<', html)
    assert _balance(app) == 1_000


def test_an_adjustment_needs_a_note_and_then_applies(app, admin):
    with app.app_context():
        service.top_up(CLI, 1_000)
    response = _post(admin, "/billing/adjustments", {"adjust-amount": "-2.50"})
    assert response.status_code == 422
    assert "Enter a note saying why the balance is adjusted." in response.get_data(as_text=True)
    response = _post(admin, "/billing/adjustments", {"adjust-amount": "-2.50", "adjust-note": "Bank fee"})
    assert response.status_code == 303
    assert _balance(app) == 750


# ---- ledger -----------------------------------------------------------------------------------

def _ledger_rows(app):
    """A top-up ten days ago (its note a would-be formula), then a charge for one number now."""
    with app.app_context():
        number = f.make_number(number="+14155550111")
        service.top_up(CLI, 10_000, "=SUM(A1)")
        with db.session.begin():
            ledger.post(db.session, "add_charge", [ledger.Entry(350, number_id=number.id, number=number.number)], CLI)
        db.session.execute(sa.update(LedgerEntry).where(LedgerEntry.kind == "top_up")
                           .values(at=T0 - timedelta(days=10)))
        db.session.commit()


def _ledger_kinds(html: str) -> list[str]:
    block = html[html.index('<div id="ledger">'):]
    return re.findall(r'<td class="nowrap">(Top-up|Add charge|Adjustment)</td>', block)


def test_ledger_lists_newest_first_and_filters_by_kind_number_and_local_dates(app, admin):
    _ledger_rows(app)
    assert _ledger_kinds(admin.get("/billing").get_data(as_text=True)) == ["Add charge", "Top-up"]
    assert _ledger_kinds(admin.get("/billing?kind=add_charge").get_data(as_text=True)) == ["Add charge"]
    assert _ledger_kinds(admin.get("/billing?number=(415) 555-0111").get_data(as_text=True)) == ["Add charge"]
    assert _ledger_kinds(admin.get("/billing?number=999").get_data(as_text=True)) == []
    old = (T0 - timedelta(days=10)).date().isoformat()
    assert _ledger_kinds(admin.get(f"/billing?date_from={old}&date_to={old}").get_data(as_text=True)) == ["Top-up"]
    assert _ledger_kinds(admin.get(f"/billing?date_from={T0.date().isoformat()}").get_data(as_text=True)) == [
        "Add charge"]


def test_ledger_dates_are_workspace_local_days(app, admin):
    _ledger_rows(app)
    with app.app_context():
        # 12:00 UTC on 28 Nov is already 29 Nov in Auckland
        db.session.execute(sa.update(Workspace).values(time_zone="Pacific/Auckland"))
        db.session.commit()
    assert _ledger_kinds(admin.get("/billing?date_from=2026-11-29&date_to=2026-11-29").get_data(as_text=True)) == [
        "Add charge"]
    assert _ledger_kinds(admin.get("/billing?date_to=2026-11-28").get_data(as_text=True)) == ["Top-up"]


def test_ledger_pages_newest_first(app, admin):
    with app.app_context():
        for i in range(55):
            service.top_up(CLI, 100 + i)
    first = admin.get("/billing").get_data(as_text=True)
    assert first.count("<td class=\"nowrap\">Top-up</td>") == 50
    assert "Older ›" in first and "‹ Newer" not in first
    second = admin.get("/billing?page=2").get_data(as_text=True)
    assert second.count("<td class=\"nowrap\">Top-up</td>") == 5
    assert "$1.00" in second and "$1.54" not in second  # the oldest five


def test_ledger_filter_answers_htmx_with_the_ledger_block(app, admin, rendered):
    _ledger_rows(app)
    response = admin.get("/billing?kind=top_up", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="ledger">')
    assert ("billing/index.html", ["ledger"]) in rendered
    assert "HX-Request" in response.headers["Vary"]
    boosted = admin.get("/billing?kind=top_up", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_ledger_csv_columns_filters_and_formula_safety(app, admin):
    _ledger_rows(app)
    response = admin.get("/billing/ledger.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response)
    assert rows[0] == ["at", "kind", "amount", "balance_after", "number", "pool", "order_id", "batch_id", "actor",
                       "note", "detail"]
    assert [r[1:5] for r in rows[1:]] == [["add_charge", "-3.50", "96.50", "+14155550111"],
                                          ["top_up", "100.00", "100.00", ""]]
    assert rows[1][0] == "2026-11-28T12:00:00Z"
    assert rows[2][9] == "'=SUM(A1)"
    assert len(_rows(admin.get("/billing/ledger.csv?kind=top_up"))) == 2


# ---- per-number totals ------------------------------------------------------------------------

def test_totals_per_number_sum_charges_and_refunds_and_link_numbers_still_held(app, admin):
    with app.app_context():
        kept = f.make_number(number="+14155550121")
        gone = f.make_number(number="+14155550122")
        service.top_up(CLI, 10_000)
        with db.session.begin():
            ledger.post(db.session, "add_charge", [ledger.Entry(500, number_id=kept.id, number=kept.number),
                                                   ledger.Entry(700, number_id=gone.id, number=gone.number)], CLI)
            ledger.post(db.session, "renewal", [ledger.Entry(150, number_id=kept.id, number=kept.number)], CLI)
            release.release_numbers(db.session, CLI, [gone.id], "removed_unregistered", refund=True)
    html = admin.get("/billing/numbers").get_data(as_text=True)
    rows = re.findall(r'<tr>\s*<th scope="row".*?</tr>', html, re.S)
    cells = [re.findall(r'<td class="num nowrap">(?:<strong>)?([^<]+)', r) for r in rows]
    assert cells == [["$6.50", "$0.00", "$6.50"], ["$7.00", "$7.00", "$0.00"]]  # net, highest first
    assert 'href="/numbers/14155550121"' in rows[0] and "In the inventory" in rows[0]
    assert "/numbers/14155550122" not in rows[1] and "Released" in rows[1]
    by_number = admin.get("/billing/numbers?number=0122&sort=number").get_data(as_text=True)
    assert len(re.findall(r'<th scope="row"', by_number)) == 1 and "+1 415-555-0122" in by_number


# ---- forecast ---------------------------------------------------------------------------------

def _renewing(app, days: float, price: int):
    with app.app_context():
        ensure_workspace(db.session)
        at = T0 + timedelta(days=days)
        f.make_number(expires_at=at, billing_anchor_day=at.day, monthly_price_minor=price)


def test_forecast_says_the_balance_covers_the_next_90_days(app):
    _renewing(app, 3, 1_000)
    _renewing(app, 45, 2_000)
    with app.app_context():
        service.top_up(CLI, 50_000)
    html = _client(app, "viewer").get("/billing/forecast").get_data(as_text=True)
    assert "Balance covers the next 90 days." in html
    assert re.search(r"Next 30 days</dt><dd><strong>1</strong> renewal · <strong>\$10\.00", html)
    assert re.search(r"Next 90 days</dt><dd><strong>\d+</strong> renewals · <strong>\$", html)
    assert '<svg class="forecast-chart"' in html and "<polyline" in html
    assert 'href="/numbers?status=attention"' in html


def test_forecast_says_when_the_balance_runs_out(app):
    _renewing(app, 3, 1_000)
    _renewing(app, 10, 2_000)
    with app.app_context():
        service.top_up(CLI, 1_500)
    html = _client(app, "viewer").get("/billing/forecast").get_data(as_text=True)
    # 1 Dec (1,000) is paid; 8 Dec (2,000) is not, nor are the later months of both numbers
    # unpaid: 8 Dec (20.00), then the later months 1 Jan, 8 Jan, 1 Feb, 8 Feb (10 + 20 + 10 + 20)
    assert "Balance runs out on 8 Dec 2026: 5 renewals ($80.00) can't be paid." in html
    assert 'class="bar bar-short"' in html


def test_forecast_warns_about_a_pool_whose_renewal_failed(app):
    with app.app_context():
        ensure_workspace(db.session)
        pool = f.make_pool(name="Main pool", renew_date=date(2026, 11, 25), renewal_failed_on=date(2026, 11, 25))
        pool_id = pool.id
    html = _client(app, "viewer").get("/billing/forecast").get_data(as_text=True)
    assert re.search(rf'role="alert">Pool <a href="/configuration/capacity/pools/{pool_id}">Main pool</a>: renewal '
                     r"failed on 25 Nov 2026", html)
    # 100 channels × 5.00, overdue since 25 Nov: the balance of 0 can't pay it
    assert "Balance runs out on 25 Nov 2026: " in html


def test_forecast_csv_lists_occurrences_with_cumulative_and_covered(app, admin):
    with app.app_context():
        f.make_pool(total=2, renew_date=date(2026, 12, 1), name="EU pool")  # 2 × 5.00
        at = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
        f.make_number(number="+14155550131", expires_at=at, billing_anchor_day=1, monthly_price_minor=400)
        service.top_up(CLI, 1_200)
    rows = _rows(admin.get("/billing/forecast.csv?days=30"))
    assert rows == [["date", "kind", "number or pool", "amount", "cumulative", "covered"],
                    ["2026-12-01T00:00:00Z", "pool", "EU pool", "10.00", "10.00", "true"],
                    ["2026-12-01T09:00:00Z", "number", "+14155550131", "4.00", "14.00", "false"]]


# ---- released numbers -------------------------------------------------------------------------

def _released(app):
    with app.app_context():
        a = f.make_number(number="+14155550141", description="Front desk")
        b = f.make_number(number="+442071838750", country="GB", region=None, city="London")
        c = f.make_number(number="+14155550143")
        release.release_numbers(db.session, CLI, [a.id], "expired")
        release.release_numbers(db.session, CLI, [b.id], "cancelled")
        db.session.commit()
        app.extensions["clock"].advance(days=3)
        release.release_numbers(db.session, CLI, [c.id], "registration_deadline")
        db.session.commit()
        f.make_number(number="+14155550141")  # added again


def _released_numbers(html: str) -> list[str]:
    return re.findall(r'title="History of (\+\d+)"', html)


def test_released_numbers_filter_by_reason_country_dates_and_search(app):
    _released(app)
    viewer = _client(app, "viewer")
    assert _released_numbers(viewer.get("/billing/released").get_data(as_text=True)) == [
        "+14155550143", "+442071838750", "+14155550141"]
    assert _released_numbers(viewer.get("/billing/released?reason=cancelled").get_data(as_text=True)) == [
        "+442071838750"]
    assert _released_numbers(viewer.get("/billing/released?country=gb").get_data(as_text=True)) == ["+442071838750"]
    assert _released_numbers(viewer.get("/billing/released?q=415 555 0143").get_data(as_text=True)) == [
        "+14155550143"]
    assert _released_numbers(viewer.get("/billing/released?q=front").get_data(as_text=True)) == ["+14155550141"]
    later = viewer.get("/billing/released?date_from=2026-12-01&date_to=2026-12-01").get_data(as_text=True)
    assert _released_numbers(later) == ["+14155550143"]
    assert _released_numbers(viewer.get("/billing/released?reason=bogus&country=<x>").get_data(as_text=True)) == [
        "+14155550143", "+442071838750", "+14155550141"]


def test_released_rows_link_to_their_history_and_to_a_number_added_again(app):
    _released(app)
    html = _client(app, "viewer").get("/billing/released?q=0141").get_data(as_text=True)
    assert 'href="/activity?object_type=number&amp;object=%2B14155550141"' in html
    assert 'href="/numbers/14155550141">In the inventory again' in html
    history = _client(app, "viewer").get("/activity?object_type=number&object=%2B14155550141").get_data(as_text=True)
    assert "number.released" in history


def test_released_csv(app):
    _released(app)
    rows = _rows(_client(app, "viewer").get("/billing/released.csv?reason=expired"))
    assert rows[0] == ["number", "country", "region", "city", "number_type", "description", "added_at", "released_at",
                       "reason", "voice_route", "sms_route", "identity", "order_reference", "total_charged",
                       "total_refunded", "old_number_id"]
    assert len(rows) == 2
    assert rows[1][:9] == ["+14155550141", "US", "CA", "San Francisco", "local", "Front desk", "2026-11-28T12:00:00Z",
                           "2026-11-28T12:00:00Z", "expired"]


def test_released_htmx_filter_returns_the_results_block(app, rendered):
    _released(app)
    response = _client(app, "viewer").get("/billing/released?reason=expired", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="results">') and "<html" not in html
    assert ("billing/released.html", ["results"]) in rendered


# ---- header partial ---------------------------------------------------------------------------

def test_balance_partial_shows_the_balance_and_a_shortfall(app):
    _renewing(app, 2, 5_000)
    with app.app_context():
        service.top_up(CLI, 1_234)
    _client(app, "viewer")
    with app.test_request_context("/billing"):
        login_user(db.session.scalars(sa.select(User)).first())
        html = render_template("billing/_balance.html")
    assert '<strong id="header-balance">$12.34</strong>' in html
    assert "Short from 30 Nov 2026" in html
