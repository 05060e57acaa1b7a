"""HTTP-in SMS trunk header and query-parameter values hold tokens (issue 8 §4): viewers see the
names only, history and its CSV record the values as "changed"; operators see them on the form."""
import csv
import io
import json
import re

import sqlalchemy as sa

from did_app.db import db
from did_app.models import AuditEvent, SmsRoute
from tests.conftest import T0, csrf_from, login

SMS = "/configuration/sms-trunks"
TOKENS = ("tok-SECRET-1", "qk-SECRET-2", "tok-SECRET-3")


def _form(client, path) -> dict:
    """The page's CSRF token and its hidden version (when the form has one)."""
    html = client.get(path).get_data(as_text=True)
    data = {"csrf_token": csrf_from(html)}
    version = re.search(r'name="version"[^>]*value="(\d+)"', html) or re.search(r'value="(\d+)"[^>]*name="version"', html)
    if version:
        data["version"] = version.group(1)
    return data


def _hook(app, client) -> int:
    """An operator creates an HTTP-in trunk with a bearer token and an API key, then replaces the token."""
    values = {"name": "CRM hook", "url": "https://crm.example.com/sms", "method": "GET", "priority": "100",
              "group_id": "", "verify_tls": "y", "headers": "Authorization: Bearer tok-SECRET-1",
              "query_parameters": "api_key=qk-SECRET-2\ntext={SMS_TEXT}"}
    response = client.post(f"{SMS}/new/http_in", data={**_form(client, f"{SMS}/new/http_in"), **values})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        trunk_id = db.session.scalar(sa.select(SmsRoute.id).where(SmsRoute.name == "CRM hook"))
    values["headers"] = "Authorization: Bearer tok-SECRET-3"
    response = client.post(f"{SMS}/{trunk_id}", data={**_form(client, f"{SMS}/{trunk_id}"), **values})
    assert response.status_code == 303, response.get_data(as_text=True)
    return trunk_id


def _no_token(text: str) -> bool:
    return not any(t in text for t in TOKENS)


def test_viewers_see_the_names_but_not_the_values(app, client):
    login(client, "operator")
    trunk_id = _hook(app, client)
    viewer = app.test_client()
    login(viewer, "viewer")
    html = viewer.get(f"{SMS}/{trunk_id}").get_data(as_text=True)
    assert _no_token(html)
    assert re.search(r"<dt>Headers</dt><dd>Authorization=•••• set</dd>", html)
    assert re.search(r"<dt>Query parameters</dt><dd>api_key=•••• set; text=•••• set</dd>", html)
    listing = viewer.get(SMS).get_data(as_text=True)
    assert "CRM hook" in listing and _no_token(listing)


def test_operators_still_see_the_values_on_the_form(app, client):
    login(client, "operator")
    trunk_id = _hook(app, client)
    html = client.get(f"{SMS}/{trunk_id}").get_data(as_text=True)
    form = html[html.index('class="route-form"'):html.index('id="history"')]
    assert "Authorization: Bearer tok-SECRET-3" in form and "api_key=qk-SECRET-2" in form
    assert _no_token(html[html.index('id="history"'):])


def test_history_records_the_values_as_changed(app, client):
    login(client, "operator")
    _hook(app, client)
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "sms_trunk")
                                  .order_by(AuditEvent.id)).all()
        stored = [(r.action, r.before, r.after) for r in rows]
    assert _no_token(json.dumps(stored))
    created, updated = stored
    assert created[0] == "sms_trunk.created"
    assert created[2]["headers"] == [{"key": "Authorization", "value": "changed"}]
    assert created[2]["query_parameters"] == [{"key": "api_key", "value": "changed"}, {"key": "text", "value": "changed"}]
    # replacing only the token is still a recorded change, without either value
    assert updated == ("sms_trunk.updated", {"headers": [{"key": "Authorization", "value": "changed"}]},
                       {"headers": [{"key": "Authorization", "value": "changed"}]})


def test_activity_page_csv_and_trunk_history_mask_rows_written_before(app, client):
    login(client, "operator")
    trunk_id = _hook(app, client)
    with app.app_context():  # a row stored in clear by an earlier release
        db.session.add(AuditEvent(at=T0, actor_label="ops@example.com", source="web", action="sms_trunk.updated",
                                  object_type="sms_trunk", object_id=trunk_id, object_label="CRM hook",
                                  before={"headers": [{"key": "Authorization", "value": "Bearer tok-SECRET-1"}]},
                                  after={"headers": [{"key": "Authorization", "value": "Bearer tok-SECRET-3"}],
                                         "query_parameters": [{"key": "api_key", "value": "qk-SECRET-2"}]}))
        db.session.commit()
    viewer = app.test_client()
    login(viewer, "viewer")
    activity = viewer.get("/activity?object_type=sms_trunk").get_data(as_text=True)
    assert "Authorization" in activity and "api_key" in activity and _no_token(activity)
    history = viewer.get(f"{SMS}/{trunk_id}").get_data(as_text=True)
    assert "Authorization=changed" in history and _no_token(history)
    export = viewer.get("/activity/export.csv?object_type=sms_trunk").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export)))
    assert len(rows) == 3 and _no_token(export)
    assert json.loads(rows[0]["after"])["headers"] == [{"key": "Authorization", "value": "changed"}]
