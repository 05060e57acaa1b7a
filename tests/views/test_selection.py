"""The table side of batch actions: row checkboxes, the selection bar, the row ⋯ menu (numbers.md §7.3)
and the CSV export of an explicit selection (batch.md §1)."""
import csv
import io
import re
from datetime import timedelta

import pytest

from did_app import clock
from did_app.db import db
from did_app.models import NumberService
from did_app.numbers.export import COLUMNS
from did_app.numbers.row_actions import BATCH_ACTIONS, ROW_LABELS
from tests import factories as f
from tests.conftest import login

EDITOR_ITEMS = {"Open details", "History"}


@pytest.fixture
def numbers(app):
    """One number per row-menu case, keyed by what it is."""
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk(name="sip-main")
        pending = f.make_verification_request(status="pending")
        rejected = f.make_verification_request(status="rejected")
        made = dict(
            active=f.make_number(number="+14155550101", voice_route_id=trunk.id),
            toll_free=f.make_number(number="+18005550102", number_type="toll_free", voice_route_id=trunk.id),
            awaiting=f.make_number(number="+14155550103", needs_registration=True, awaiting_registration=True),
            in_review=f.make_number(number="+14155550104", needs_registration=True, awaiting_registration=True,
                                    verification_request_id=pending.id),
            refused=f.make_number(number="+14155550105", needs_registration=True, awaiting_registration=True,
                                  verification_request_id=rejected.id),
            porting=f.make_number(number="+14155550106", porting=True, expires_at=None),
            cancelled=f.make_number(number="+14155550107", cancelled_at=now - timedelta(days=2)),
            window_over=f.make_number(number="+14155550108", cancelled_at=now - timedelta(days=60),
                                      expires_at=now - timedelta(days=40)),
            expired=f.make_number(number="+14155550109", expired_at=now - timedelta(days=2),
                                  expires_at=now - timedelta(days=2)),
            services=f.make_number(number="+14155550110", features=("voice_in", "cnam_out", "emergency")),
            cnam_pending=f.make_number(number="+14155550111", features=("voice_in", "cnam_out", "emergency")),
        )
        db.session.add(NumberService(number_id=made["cnam_pending"].id, kind="cnam_out", status="pending",
                                     value="ACME"))
        db.session.add(NumberService(number_id=made["cnam_pending"].id, kind="emergency", status="rejected"))
        db.session.commit()
        return {key: (n.id, n.number) for key, n in made.items()}


def _row(html: str, number_id: int) -> str:
    match = re.search(rf'<tr id="number-{number_id}">.*?</tr>', html, re.S)
    assert match, f"no row for number {number_id}"
    return match.group(0)


def _menu(html: str, number_id: int) -> list[str]:
    """The row menu's items as selection.js builds them: Open details, the row's actions, History."""
    actions = re.search(r'<details class="row-menu" data-actions="([^"]*)">', _row(html, number_id)).group(1)
    return ["Open details", *(ROW_LABELS[code] for code in actions.split()), "History"]


def _template_links(html: str) -> dict[str, str]:
    template = re.search(r'<template id="row-action-items"[^>]*>(.*?)</template>', html, re.S).group(1)
    return dict(re.findall(r'<li data-code="(\w+)"><a href="([^"]+)"', template))


def _page(client) -> str:
    response = client.get("/numbers?per_page=100")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_each_row_has_a_checkbox_labelled_with_its_number(client, numbers):
    login(client, "viewer")
    html = _page(client)
    number_id, _ = numbers["active"]
    assert re.search(rf'<tr id="number-{number_id}"><td><input type="checkbox" value="{number_id}" '
                     r'aria-label="Select \+1 415-555-0101"></td>', _row(html, number_id))
    assert html.count('<td><input type="checkbox" value=') == len(numbers)
    assert 'id="select-page"' in html and 'aria-label="Select every row on this page"' in html
    # the view the selection needs: N and the filter a filter-mode batch sends, without the page
    response = client.get("/numbers?status=active&per_page=25&page=1&sort=number")
    table = re.search(r'<div class="table-scroll" id="numbers-table"[^>]*>', response.get_data(as_text=True)).group(0)
    assert 'data-total="2"' in table
    assert 'data-filter="status=active&amp;sort=number&amp;per_page=25"' in table
    assert 'data-filter-key="status=active"' in table


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_editors_get_the_bar_with_every_batch_action(client, numbers, role):
    login(client, role)
    html = _page(client)
    bar = re.search(r'<div id="batch-bar".*?</div>', html, re.S).group(0)
    assert "hidden" in bar.split(">", 1)[0]  # shown by selection.js once something is selected
    assert "<summary>Batch actions" in bar and "data-selection-clear" in bar
    labels = re.findall(r'data-batch-action="(\w+)"', bar)
    assert labels == [code for code, _ in BATCH_ACTIONS]
    assert '<a data-batch-action="renew" data-batch-dialog>Renew…</a>' in bar
    assert '<a data-batch-action="export" download>Export</a>' in bar
    assert 'data-batch-url="/batches/new" data-export-url="/numbers/export.csv"' in bar
    assert '<dialog id="batch-dialog"' in html and 'id="batch-dialog-body"' in html


def test_viewers_get_export_only(client, numbers):
    login(client, "viewer")
    html = _page(client)
    assert set(_template_links(html)) == {"details", "history"}
    assert "Renew…" not in html and "Assign end-user details" not in html
    bar = re.search(r'<div id="batch-bar".*?</div>', html, re.S).group(0)
    assert "Batch actions" not in bar and "data-batch-dialog" not in bar
    assert re.findall(r'data-batch-action="(\w+)"', bar) == ["export"]


EXPECTED = {
    "active": ["Renew…", "Apply configuration profile…", "Change next capacity mode…", "Cancel…"],
    "toll_free": ["Renew…", "Apply configuration profile…", "Cancel…"],
    "awaiting": ["Renew…", "Assign end-user details…", "Apply configuration profile…",
                 "Change next capacity mode…", "Remove and refund…"],
    "in_review": ["Renew…", "Apply configuration profile…", "Change next capacity mode…", "Remove and refund…"],
    "refused": ["Renew…", "Assign end-user details…", "Apply configuration profile…",
                "Change next capacity mode…", "Remove and refund…"],
    "porting": ["Apply configuration profile…", "Change next capacity mode…"],
    "cancelled": ["Apply configuration profile…", "Change next capacity mode…", "Restore…"],
    "window_over": ["Apply configuration profile…", "Change next capacity mode…"],
    "expired": ["Renew…", "Apply configuration profile…", "Change next capacity mode…"],
    "services": ["Renew…", "Apply configuration profile…", "Change next capacity mode…",
                 "Configure CNAM OUT…", "Request emergency service…", "Cancel…"],
    "cnam_pending": ["Renew…", "Apply configuration profile…", "Change next capacity mode…",
                     "Request emergency service…", "Cancel…"],
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_row_menu_lists_the_actions_that_apply(client, numbers, case):
    login(client, "operator")
    number_id, _ = numbers[case]
    assert _menu(_page(client), number_id) == ["Open details", *EXPECTED[case], "History"]


@pytest.mark.parametrize("case", ["active", "awaiting", "cancelled", "services"])
def test_viewers_row_menu_is_details_and_history(client, numbers, case):
    login(client, "viewer")
    number_id, _ = numbers[case]
    assert _menu(_page(client), number_id) == ["Open details", "History"]


def test_row_menu_links(client, numbers):
    """Each item's URL, once per page, with the placeholders selection.js fills per row."""
    login(client, "operator")
    html = _page(client)
    links = _template_links(html)
    assert links == {
        "details": "/numbers/123456789012", "history": "/numbers/123456789012#history",
        "assign_details": "/registration/assign?number=%2B123456789012",
        "cnam_out": "/registration/numbers/123456789012/services#cnam_out",
        "emergency": "/registration/numbers/123456789012/services#emergency",
        **{code: f"/batches/new?action={code}&amp;ids=987654321"
           for code in ("renew", "apply_profile", "next_mode", "cancel", "remove", "restore")}}
    assert set(links) == {"details", "history", *ROW_LABELS}
    assert 'data-id-placeholder="987654321" data-digits-placeholder="123456789012"' in html
    # the row gives selection.js its id (the row's id) and digits (its number's link)
    number_id, _ = numbers["awaiting"]
    assert '<a href="/numbers/14155550103">' in _row(html, number_id)


def test_row_menu_after_an_inline_edit_keeps_its_actions(client, hx, numbers):
    """The row rendered alone (the 200 of an inline save) carries the same checkbox and menu."""
    login(client, "operator")
    number_id, _ = numbers["active"]
    response = hx.get(f"/numbers/{number_id}/cells/description")
    html = response.get_data(as_text=True)
    assert '<td><input type="checkbox"' in html and _menu(html, number_id) == ["Open details", *EXPECTED["active"], "History"]


def _csv_numbers(response) -> list[str]:
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == COLUMNS
    return [r[0] for r in rows[1:]]


def test_export_takes_the_explicit_selection(client, numbers):
    login(client, "viewer")
    picked = [numbers[k][0] for k in ("expired", "active", "porting")]
    response = client.get("/numbers/export.csv?sort=number&ids=" + ",".join(map(str, picked)))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert _csv_numbers(response) == ["+14155550101", "+14155550106", "+14155550109"]
    # within a filter also given; junk items are skipped, never a 500
    response = client.get(f"/numbers/export.csv?status=porting&ids={picked[0]},{picked[2]},x,-3,,99999999")
    assert _csv_numbers(response) == ["+14155550106"]
    assert _csv_numbers(client.get("/numbers/export.csv?ids=")) == []


def test_export_refuses_more_than_ten_thousand_ids(client, numbers):
    login(client, "viewer")
    response = client.get("/numbers/export.csv?ids=" + ",".join(str(i) for i in range(1, 10_002)))
    assert response.status_code == 422
    assert "Select at most 10,000 rows one by one" in response.get_data(as_text=True)
    assert client.get("/numbers/export.csv?ids=" + ",".join(str(i) for i in range(1, 10_001))).status_code == 200


def test_the_row_menus_cost_no_query_per_row(app, numbers):
    """Applicability comes from the loaded columns: 30 more rows (cancelled, so Restore is checked)
    render with the same statements as before."""
    from sqlalchemy import event

    client = app.test_client()
    login(client, "operator")
    statements = []

    def page_statements() -> int:
        statements.clear()
        assert client.get("/numbers?per_page=100").status_code == 200
        return len(statements)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        page_statements()  # the first request also loads the session and settings
        before = page_statements()
        for i in range(30):
            f.make_number(number=f"+1415555{2000 + i}", cancelled_at=clock.now() - timedelta(days=1))
        page_statements()  # the new rows' commits dropped the cached user and settings
        assert page_statements() == before
