"""The Activity page and its CSV: every change, filterable by user, action, object and date."""
import csv
import io

from did_app import audit
from did_app.numbers.edits import update_number
from tests import factories as f
from tests.conftest import login


def _history(app):
    with app.app_context():
        n = f.make_number(description="first")
        trunk = f.make_voice_trunk(name="sip-main")
        update_number(audit.Actor(None, "web", "ops@example.com"), n.id, 1, voice_route_id=trunk.id)
        update_number(audit.Actor(None, "cli", "cli"), n.id, 2, description="=cmd()")
        return n.number, n.digits


def test_activity_lists_changes_and_filters(app, client):
    number, _ = _history(app)
    login(client, "viewer", email="viewer@example.com")
    html = client.get("/activity").get_data(as_text=True)
    assert "number.updated" in html and "sip-main" in html and "ops@example.com" in html
    only_cli = client.get("/activity?user=cli").get_data(as_text=True)
    assert "=cmd()" in only_cli and "sip-main" not in only_cli
    by_object = client.get(f"/activity?object_type=number&object={number[1:]}").get_data(as_text=True)
    assert by_object.count("<code>number.updated</code>") == 2
    none = client.get("/activity?date_from=2030-01-01").get_data(as_text=True)
    assert "No history matches." in none
    fragment = client.get("/activity?action=number.updated", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="results">')


def test_activity_csv_is_formula_safe(app, client):
    _history(app)
    login(client, "viewer")
    response = client.get("/activity/export.csv?action=number.updated")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["at", "actor", "source", "action"] and len(rows) == 3
    assert any('"description": "=cmd()"' in r[8] for r in rows[1:])  # JSON starts with {, safe as it is


def test_the_details_page_shows_its_history(app, client):
    _, digits = _history(app)
    login(client, "viewer")
    html = client.get(f"/numbers/{digits}").get_data(as_text=True)
    assert "ops@example.com" in html and "sip-main" in html and "All history" in html
