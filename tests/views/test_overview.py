"""The Overview page (/overview): every role sees it, it links each figure to its numbers, and no
query string makes it fail."""
import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.db import db
from did_app.models import Workspace
from tests import factories as f
from tests.conftest import login


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_every_role_sees_the_overview_first_in_the_navigation(app, client, role):
    login(client, role)
    body = client.get("/overview").get_data(as_text=True)
    assert "<h1>Overview</h1>" in body
    nav = body[body.index('class="brand"'):]
    nav = nav[nav.index("<li>"):]  # after the workspace's name, Overview is the first item
    assert nav.index('href="/overview"') < nav.index('href="/numbers"') < nav.index('href="/registration')
    assert client.get("/").headers["Location"].endswith("/numbers")


def test_the_page_counts_and_links_blockers_statuses_and_weeks(app, client):
    with app.app_context():
        trunk = f.make_voice_trunk().id
        f.make_number()                                             # no voice trunk
        f.make_number(voice_route_id=trunk, features=("voice_in", "sms_in"))  # no SMS route
        f.make_number(voice_route_id=trunk, billing_cycles_count=0)
    login(client, "viewer")
    body = client.get("/overview").get_data(as_text=True)
    assert 'href="/numbers?blocker=voice_route" data-blocker="voice_route" data-count="1"' in body
    assert 'href="/numbers?blocker=sms_route" data-blocker="sms_route" data-count="1"' in body
    assert 'href="/numbers?status=not_configured" data-count="1"' in body
    assert 'href="/numbers?status=expiring_soon" data-count="1"' in body
    assert "<title>Week of" in body and 'aria-label="Week of' in body
    assert "The same as a table" in body
    assert "expires_from=" in body and "expires_to=" in body
    # viewers see the service count but not the admin-only link
    assert "/registration/services" not in body


def test_the_balance_line_runs_out_at_the_stored_cutoff(app, client):
    login(client, "viewer")
    client.get("/overview")  # the workspace row exists from the first request on
    with app.app_context():
        f.make_number(voice_route_id=f.make_voice_trunk().id)
        db.session.execute(sa.update(Workspace).values(renewal_risk_cutoff_at=clock.now()))
        db.session.commit()
    body = client.get("/overview").get_data(as_text=True)
    assert "runs out on" in body, body[body.find("legend"):body.find("legend")+600]


@pytest.mark.parametrize("query", ["?blocker=nope", "?status=%00", "?x=" + "9" * 5000, "?week=-1"])
def test_query_values_never_fail(app, client, query):
    login(client, "viewer")
    assert client.get("/overview" + query).status_code == 200
