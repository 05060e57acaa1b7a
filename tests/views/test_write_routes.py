"""Every route that changes data refuses anonymous users, viewers and requests without a CSRF
token, and writes nothing (access.md §2, quality bar R5). Routes are read from the URL map, so a
new write route is covered the day it is added."""
import pytest
import sqlalchemy as sa

from did_app import create_app
from did_app.db import db
from did_app.models import AuditEvent
from tests.conftest import csrf_from, login

# own account or no session (own digest opt-in, own calendar link, own read marks on notifications:
# tests/views/test_profile.py and test_notifications.py check their CSRF); and a long pasted search, a batch's "Show these numbers" and the Export
# of a long selection, which every role may run (a saved list or a download, no data changes)
OPEN_TO_ALL = {"auth.login", "auth.setup", "auth.logout", "auth.password", "auth.sign_out_everywhere",
               "auth.digest_opt_in", "auth.calendar_reset", "notifications.mark_read", "notifications.mark_all_read",
               "numbers.save_list", "batches.show_numbers", "batches.export"}


def _write_routes():
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        methods = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        if methods and rule.endpoint not in OPEN_TO_ALL:
            values = {arg: ("1" if "int" in str(rule._converters.get(arg, "")) else "1") for arg in rule.arguments}
            routes.append((rule.endpoint, sorted(methods)[0], rule.rule, values))
    return routes


def _url(rule: str, values: dict) -> str:
    for key, value in values.items():
        rule = rule.replace(f"<int:{key}>", value).replace(f"<{key}>", value)
    return rule


def _audit_rows(app) -> int:
    with app.app_context():
        # the test's own users are created through the service, which audits them
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action != "user.created"))


@pytest.mark.parametrize("endpoint,method,rule,values", _write_routes(), ids=lambda v: v if isinstance(v, str) else "")
def test_write_route_refuses_anonymous_viewer_and_tokenless(app, endpoint, method, rule, values):
    url = _url(rule, values)
    login(app.test_client(), "admin")  # a user exists, so this is not the first run
    before = _audit_rows(app)

    anonymous = app.test_client()
    token = csrf_from(anonymous.get("/login").get_data(as_text=True))
    response = anonymous.open(url, method=method, data={"csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"], endpoint

    viewer = app.test_client()
    login(viewer, "viewer")
    token = csrf_from(viewer.get("/numbers").get_data(as_text=True))
    assert viewer.open(url, method=method, data={"csrf_token": token}).status_code == 403, endpoint

    admin = app.test_client()
    login(admin, "admin")
    assert admin.open(url, method=method, data={}).status_code == 400, endpoint

    assert _audit_rows(app) == before
