"""Saved number lists (numbers.md §7.6 step 5) under issue 8 §4: a byte limit on the paste, long
items never stored, and a report that echoes a bounded part of what was pasted."""
import re

import sqlalchemy as sa

from did_app.db import db
from did_app.models import SavedList
from did_app.numbers import service
from tests import factories as f
from tests.conftest import login

LIMIT = service.MAX_LIST_BYTES


def _saved(app) -> list[SavedList]:
    with app.app_context():
        return list(db.session.scalars(sa.select(SavedList)))


def _token(response) -> str:
    return re.search(r"list=([\w-]+)", response.headers["HX-Location"]).group(1)


def _line(html: str, label: str) -> str:
    m = re.search(rf'<div class="report-line"><span>[\d,]+ {label}:(.*?)</div>', html, re.S)
    assert m, f"no report line '{label}'"
    return m.group(1)


def test_a_paste_over_1_mb_is_refused_and_nothing_is_stored(app, client, hx):
    login(client, "operator")
    response = hx.post("/numbers/lists", data={"q": "4" * (LIMIT + 1)})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "The pasted text is larger than 1 MB. Paste at most 10,000 numbers." in body
    assert len(body) < 100_000  # the paste is not echoed back
    # bytes, not characters: 600,000 two-byte letters are 1.2 MB
    classic = client.post("/numbers/lists", data={"q": "é" * 600_000, "csrf_token": hx.token})
    assert classic.status_code == 422
    assert "The pasted text is larger than 1 MB." in classic.get_data(as_text=True)
    assert _saved(app) == []


def test_a_paste_of_exactly_1_mb_is_kept_as_one_short_unrecognised_item(app, client, hx):
    login(client, "operator")
    response = hx.post("/numbers/lists", data={"q": "+14155552671\n" + "4" * (LIMIT - 13)})
    assert response.status_code == 200
    (saved,) = _saved(app)
    assert saved.items == ["+14155552671"]
    (kept,) = saved.raw_unrecognised
    assert kept == f"(an item of {LIMIT - 13:,} characters)"
    html = client.get(f"/numbers?list={_token(response)}").get_data(as_text=True)
    assert "1 not recognised:" in html and "4" * 100 not in html


def test_an_item_over_64_characters_is_reported_without_being_stored(app, client, hx):
    login(client, "operator")
    numbers = [f"+1212555{i:04d}" for i in range(150)]
    long_item = "+1212555" + "7" * 60  # 68 characters
    response = hx.post("/numbers/lists", data={"q": "\n".join(numbers + [long_item])})
    (saved,) = _saved(app)
    assert saved.items == numbers
    assert saved.raw_unrecognised == ["(an item of 68 characters)"]  # none of its text
    html = client.get(f"/numbers?list={_token(response)}").get_data(as_text=True)
    assert "Searched 151 numbers: 0 found." in html
    assert "1 not recognised:" in html and long_item not in html and "68 characters" in html


def test_the_report_echoes_the_first_20_items_of_each_list(app, client, hx):
    with app.app_context():
        f.make_number(number="+12125550000")
    login(client, "operator")
    missing = [f"+1212555{i:04d}" for i in range(1, 151)]
    bad = [f"bad entry {i}" for i in range(30)]
    response = hx.post("/numbers/lists", data={"q": "\n".join(["+12125550000"] + missing + bad)})
    html = client.get(f"/numbers?list={_token(response)}").get_data(as_text=True)
    assert "Searched 181 numbers: 1 found." in html
    line = _line(html, "not in the inventory")
    assert line.count('class="report-item"') == 20 and "and 130 more" in line
    assert "+1 212-555-0020" in line and "+1 212-555-0021" not in line.split("data-copy")[0]
    assert re.search(r'data-copy="([^"]*)"', line).group(1).split("\n") == missing  # Copy takes them all
    line = _line(html, "not recognised")
    assert line.count("<code>") == 20 and "and 10 more" in line


def test_a_saved_list_reads_tel_prefixes_headings_and_spaced_numbers(app, client, hx):
    login(client, "operator")
    numbers = [f"tel:+1212555{i:04d}" for i in range(150)]
    response = hx.post("/numbers/lists", data={"q": "\n".join(["Number"] + numbers + ["+1 512 240 772"])})
    (saved,) = _saved(app)
    assert saved.items == [n[4:] for n in numbers]
    assert saved.raw_unrecognised == ["Number", "+1 512 240 772"]
    html = client.get(f"/numbers?list={_token(response)}").get_data(as_text=True)
    assert "2 not recognised: <code>Number</code>, <code>+1 512 240 772</code>" in html
