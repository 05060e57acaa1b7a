"""The My Numbers table over HTTP: counts, filters, search report, export, page vs fragment."""
import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.numbers.export import COLUMNS
from tests import factories as f
from tests.conftest import login


def _row_count(html: str) -> int:
    return len(re.findall(r'<tr id="number-\d+"', html))


@pytest.fixture
def inventory(app):
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk(name="sip-main")
        vr = f.make_verification_request(status="rejected")
        specs = [
            dict(voice_route_id=trunk.id, description="Sales London"),
            dict(voice_route_id=trunk.id, billing_cycles_count=0, expires_at=now + timedelta(days=3)),
            dict(description="unrouted support"),
            dict(porting=True, expires_at=None),
            dict(needs_registration=True, awaiting_registration=True),
            dict(needs_registration=True, awaiting_registration=True, verification_request_id=vr.id),
            dict(cancelled_at=now - timedelta(days=2), voice_route_id=trunk.id),
            dict(expired_at=now - timedelta(days=2), voice_route_id=trunk.id),
            dict(number="+442071838750", country="GB", region=None, city="London", voice_route_id=trunk.id,
                 description='=HYPERLINK("x")'),
        ]
        numbers = [f.make_number(**s) for s in specs]
        return {"trunk": trunk.id, "numbers": [n.number for n in numbers]}


def test_anonymous_requests_go_to_login(app, client, inventory):
    login(app.test_client(), "admin")  # a user exists, so this is not the first run
    login_needed = client.get("/numbers")
    assert login_needed.status_code == 302 and "/login?next=/numbers" in login_needed.headers["Location"]
    hx = client.get("/numbers", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/numbers?page=2"})
    assert hx.status_code == 401 and hx.headers["HX-Redirect"].endswith("/login?next=/numbers")
    for path in ("/numbers/export.csv", f"/numbers/{inventory['numbers'][0][1:]}"):
        assert client.get(path).status_code == 302


@pytest.mark.parametrize("path", ["/numbers", "/numbers?status=attention&sort=status",
                                  "/numbers/export.csv", "/numbers/14155550001"])
def test_a_viewer_can_read_every_page(app, client, inventory, path):
    login(client, "viewer")
    digits = inventory["numbers"][0][1:]
    response = client.get(path.replace("14155550001", digits))
    assert response.status_code == 200


def test_each_quick_filter_count_equals_the_rows_it_returns(app, client, inventory):
    login(client, "viewer")
    html = client.get("/numbers").get_data(as_text=True)
    counts = dict(re.findall(r'class="qf qf-(\w+)"[^>]*>[^<]*<span class="count">([\d,]+)</span>', html))
    assert counts, "no quick filters rendered"
    expected = {"active": 3, "not_configured": 1, "awaiting_registration": 2, "porting": 1,
                "terminated": 2, "expiring_soon": 1, "attention": 5}
    assert {k: int(v) for k, v in counts.items()} == expected
    for key, count in counts.items():
        page = client.get(f"/numbers?status={key}").get_data(as_text=True)
        assert _row_count(page) == int(count), key


def test_zero_count_quick_filters_are_hidden_but_all_is_shown(app, client):
    with app.app_context():
        f.make_number(voice_route_id=f.make_voice_trunk().id)
    login(client, "viewer")
    html = client.get("/numbers").get_data(as_text=True)
    assert ">All <span class=\"count\">1</span>" in html
    assert "qf-porting" not in html and "qf-active" in html


def test_the_chosen_quick_filter_is_pressed_and_other_filters_are_kept(app, client, inventory):
    login(client, "viewer")
    html = client.get("/numbers?status=active&country=GB").get_data(as_text=True)
    assert re.search(r'class="qf qf-active" role="button" aria-pressed="true"', html)
    assert 'status=terminated&amp;country=GB' in html
    assert _row_count(html) == 1


def test_unknown_filter_values_are_ignored_with_a_note(app, client, inventory):
    login(client, "viewer")
    response = client.get("/numbers?type=foo&sort=sideways&voice_route=abc")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ignored unknown filter value: type=foo" in html
    assert "Ignored unknown filter value: sort=sideways" in html
    assert _row_count(html) == 9


def test_fragment_for_htmx_and_full_page_otherwise(app, client, inventory, rendered):
    login(client, "viewer")
    full = client.get("/numbers")
    assert "<html" in full.get_data(as_text=True) and "HX-Request" in full.headers["Vary"]
    fragment = client.get("/numbers?status=active", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<div id="workspace">')
    assert ("numbers/index.html", ["workspace"]) in rendered
    boosted = client.get("/numbers", headers={"HX-Request": "true", "HX-Boosted": "true"})
    restore = client.get("/numbers", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in boosted.get_data(as_text=True) and "<html" in restore.get_data(as_text=True)


def test_security_headers(app, client):
    response = client.get("/healthz")
    assert response.data == b"ok"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_paste_a_list_reports_unknown_hidden_and_unrecognised(app, client, inventory):
    login(client, "viewer")
    known = inventory["numbers"][0]
    porting = inventory["numbers"][3]
    q = f"{known}\n{porting}\n+14155559999\n12\n{known}"
    html = client.get("/numbers", query_string={"q": q, "status": "active"}).get_data(as_text=True)
    assert "Searched 4 numbers: 1 found." in html
    assert "1 not in the inventory:" in html and "+1 415-555-9999" in html
    assert "1 hidden by other filters:" in html
    assert "1 not recognised: <code>12</code>" in html
    html = client.get("/numbers", query_string={"q": f"{known}, 12, +14155559999"}).get_data(as_text=True)
    assert "1 not recognised: <code>12</code>" in html
    assert _row_count(html) == 1


def test_released_numbers_are_marked_in_the_report(app, client, inventory):
    from did_app.db import db
    from did_app.models import ReleasedNumber
    with app.app_context():
        now = clock.now()
        db.session.add(ReleasedNumber(number="+14155559999", country="US", number_type="local",
                                      added_at=now - timedelta(days=90), released_at=now - timedelta(days=5),
                                      reason="expired", old_number_id=999))
        db.session.commit()
    login(client, "viewer")
    html = client.get("/numbers", query_string={"q": "+14155559999"}).get_data(as_text=True)
    assert "(released 23 Nov 2026)" in html


def test_long_paste_posts_once_and_becomes_a_saved_list(app, client, inventory, hx):
    login(client, "operator")
    numbers = [f"+1212555{i:04d}" for i in range(150)] + [inventory["numbers"][0]]
    response = hx.post("/numbers/lists", data={"q": "\n".join(numbers), "status": "active"})
    assert response.status_code == 200
    location = response.headers["HX-Location"]
    token = re.search(r"list=([\w-]+)", location).group(1)
    assert "status=active" in location
    html = client.get(f"/numbers?list={token}").get_data(as_text=True)
    assert "Searched 151 numbers: 1 found." in html
    expired = client.get("/numbers?list=doesnotexist12345").get_data(as_text=True)
    assert "This saved list has expired. Paste the numbers again." in expired


def test_saving_a_list_needs_a_csrf_token(app, client, inventory):
    login(client, "viewer")
    assert client.post("/numbers/lists", data={"q": "+14155552671"}).status_code == 400


def test_export_holds_exactly_the_filtered_rows_with_the_exact_columns(app, client, inventory):
    login(client, "viewer")
    response = client.get("/numbers/export.csv?status=active")
    assert response.mimetype == "text/csv"
    assert re.match(r'attachment; filename="my-numbers-\d{8}-\d{6}\.csv"', response.headers["Content-Disposition"])
    body = response.get_data(as_text=True)
    assert "\r\n" in body and not body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert tuple(rows[0]) == COLUMNS
    html = client.get("/numbers?status=active").get_data(as_text=True)
    assert len(rows) - 1 == _row_count(html) == 3
    by_number = {r[0]: dict(zip(COLUMNS, r)) for r in rows[1:]}
    gb = by_number["+442071838750"]
    assert gb["description"] == "'=HYPERLINK(\"x\")"
    assert gb["voice_route"] == "sip-main" and gb["monthly_price"] == "1.50"
    assert gb["billing_cycles"] == "unlimited" and gb["features"] == "voice_in"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", gb["expires_at"])


def test_export_of_everything_includes_porting_rows_last(app, client, inventory):
    login(client, "viewer")
    rows = list(csv.reader(io.StringIO(client.get("/numbers/export.csv").get_data(as_text=True))))
    assert len(rows) - 1 == 9
    assert rows[-1][5] == "porting" and rows[-1][7] == ""


def test_sort_and_paging(app, client, inventory):
    login(client, "viewer")
    html = client.get("/numbers?per_page=25&sort=-expires").get_data(as_text=True)
    assert "1–9 of 9" in html
    past_end = client.get("/numbers?page=99").get_data(as_text=True)
    assert "1–9 of 9" in past_end  # a page past the end shows the last page
    ordered = client.get("/numbers?sort=status").get_data(as_text=True)
    badges = re.findall(r'class="badge badge-(\w+)"', ordered)
    order = ["porting", "awaiting_registration", "terminated", "not_configured", "active"]
    assert badges == sorted(badges, key=order.index)


def test_details_page_shows_the_readiness_checklist(app, client, inventory):
    login(client, "viewer")
    unrouted = inventory["numbers"][2][1:]
    html = client.get(f"/numbers/{unrouted}").get_data(as_text=True)
    assert "No voice trunk. Inbound calls go nowhere." in html
    assert "Not ready: Voice trunk." in html
    awaiting = inventory["numbers"][4][1:]
    html = client.get(f"/numbers/{awaiting}").get_data(as_text=True)
    assert "End-user registration required." in html and "Finish the steps above first." in html
    assert client.get("/numbers/19999999999").status_code == 404
    assert client.get("/numbers/abc").status_code == 404


def test_load_demo_data_is_for_operators_and_only_into_an_empty_inventory(app, client, monkeypatch):
    from did_app import demo
    calls = []
    monkeypatch.setattr(demo, "seed_demo", lambda n, s: calls.append((n, s)) or "seeded")
    viewer = app.test_client()
    login(viewer, "viewer")
    from tests.conftest import csrf_from
    token = csrf_from(viewer.get("/numbers").get_data(as_text=True))
    assert viewer.post("/numbers/demo", data={"csrf_token": token}).status_code == 403
    login(client, "operator")
    html = client.get("/numbers").get_data(as_text=True)
    assert "Load demo data" in html
    token = csrf_from(html)
    assert client.post("/numbers/demo", data={"csrf_token": token}).status_code == 303
    assert calls == [(2000, 1)]
    with app.app_context():
        f.make_number()
    monkeypatch.undo()  # the real seeding, which refuses inside its own transaction
    response = client.post("/numbers/demo", data={"csrf_token": token}, follow_redirects=True)
    assert "Demo data can only be loaded into an empty inventory." in response.get_data(as_text=True)
    assert calls == [(2000, 1)] and _number_count(app) == 1


def _number_count(app) -> int:
    from did_app.db import db
    from did_app.models import Number
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Number.id)))


def test_load_demo_data_refuses_a_number_added_after_the_request_came_in(app, client, monkeypatch):
    """The race: another request adds a number between the click and the seeding transaction."""
    from contextlib import contextmanager

    from did_app import demo
    real = demo.write_transaction

    @contextmanager
    def a_number_arrives_first():
        f.make_number(number="+14155550199")  # committed by "another request"
        with real() as session:
            yield session

    monkeypatch.setattr(demo, "write_transaction", a_number_arrives_first)
    login(client, "operator")
    from tests.conftest import csrf_from
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    response = client.post("/numbers/demo", data={"csrf_token": token})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Demo data can only be loaded into an empty inventory." in page
    assert _number_count(app) == 1


def test_load_demo_data_refuses_when_a_demo_name_is_taken(app, client):
    with app.app_context():
        f.make_sms_trunk(name="CRM webhook")  # one of the demo's SMS trunks
    login(client, "operator")
    from tests.conftest import csrf_from
    token = csrf_from(client.get("/numbers").get_data(as_text=True))
    response = client.post("/numbers/demo", data={"csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    assert "The demo data uses names that your own trunks, groups, pools or profiles already have." in \
        response.get_data(as_text=True)
    assert _number_count(app) == 0


def test_a_saved_list_expires_thirty_days_after_its_last_use(app, client, inventory, hx, clock):
    login(client, "operator")
    numbers = "\n".join([inventory["numbers"][0]] + [f"+1212555{i:04d}" for i in range(120)])
    token = re.search(r"list=([\w-]+)", hx.post("/numbers/lists", data={"q": numbers}).headers["HX-Location"]).group(1)
    clock.advance(days=29)
    assert "Searched 121 numbers: 1 found." in client.get(f"/numbers?list={token}").get_data(as_text=True)
    clock.advance(days=29)  # 29 days after its last use it is still kept
    assert "Searched 121 numbers" in client.get(f"/numbers?list={token}").get_data(as_text=True)
    clock.advance(days=31)
    assert "This saved list has expired." in client.get(f"/numbers?list={token}").get_data(as_text=True)


def test_pasting_more_than_ten_thousand_numbers_is_refused(app, client, hx):
    login(client, "operator")
    text = "\n".join(f"+1212{i:07d}" for i in range(10_001))
    response = hx.post("/numbers/lists", data={"q": text})
    assert response.status_code == 422
    assert "Paste at most 10,000 numbers." in response.get_data(as_text=True)


def test_attention_count_matches_its_rows_when_renewals_are_at_risk(app, client, inventory):
    from did_app.db import db
    from did_app.models import Workspace
    with app.app_context():
        now = clock.now()
        trunk = f.make_voice_trunk()
        f.make_number(voice_route_id=trunk.id, expires_at=now + timedelta(days=5))  # unlimited, at risk
        f.make_number(voice_route_id=trunk.id, expires_at=now + timedelta(days=20))  # at risk, not soon
        ws = db.session.scalar(sa.select(Workspace))
        if ws is None:
            ws = Workspace()
            db.session.add(ws)
        ws.renewal_risk_cutoff_at = now + timedelta(days=4)
        db.session.commit()
    login(client, "viewer")
    html = client.get("/numbers").get_data(as_text=True)
    count = int(re.search(r'qf-attention"[^>]*>[^<]*<span class="count">([\d,]+)</span>', html).group(1))
    rows = _row_count(client.get("/numbers?status=attention&per_page=100").get_data(as_text=True))
    assert count == rows == 6  # the 5 of the inventory fixture, plus the one renewing within warn days
    assert "balance short" in client.get("/numbers?status=attention").get_data(as_text=True)


def test_a_pasted_list_with_a_tel_entry_a_heading_and_a_spaced_number_is_a_number_search(app, client, inventory):
    login(client, "viewer")
    known = inventory["numbers"][0]
    q = f"Number\ntel:{known}\n+1 512 240 772"
    html = client.get("/numbers", query_string={"q": q}).get_data(as_text=True)
    assert "Searched 3 numbers: 1 found." in html
    assert "2 not recognised: <code>Number</code>, <code>+1 512 240 772</code>" in html
    assert _row_count(html) == 1


def test_a_description_search_of_thousands_of_words_is_answered_with_a_note(app, client, inventory):
    login(client, "viewer")
    response = client.get("/numbers", query_string={"q": " ".join(f"w{i}" for i in range(3000))})
    assert response.status_code == 200
    assert "Searched for the first 50 words only." in response.get_data(as_text=True)
