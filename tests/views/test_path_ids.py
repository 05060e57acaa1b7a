"""Every `<int:…>` id in the URL map takes ASCII digits 1…2⁶³−1: anything else is a 404, never an
overflow 500 (issue 8 §3). Read from the URL map, so a new route is covered the day it is added."""
import pytest

from did_app import create_app
from tests.conftest import login


def _id_routes():
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        ids = [a for a, c in rule._converters.items() if type(c).__name__ == "IdConverter"]
        if ids:
            method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            routes.append((rule.endpoint, method, rule.rule, ids))
    return routes


ROUTES = _id_routes()


def test_every_int_path_argument_uses_the_bounded_converter():
    assert len(ROUTES) > 20


BAD_IDS = ("9223372036854775808", "99999999999999999999999", "0", "%D9%A1", "%C2%B2")


@pytest.mark.parametrize("endpoint,method,rule,ids", ROUTES, ids=[r[0] + " " + r[1] for r in ROUTES])
def test_an_id_out_of_range_is_a_404(app, client, endpoint, method, rule, ids):
    login(client, role="admin")
    for bad in BAD_IDS:
        url = rule
        for name in ids:
            url = url.replace(f"<int:{name}>", bad)
        for part in [p for p in url.split("/") if p.startswith("<")]:
            url = url.replace(part, "x")
        response = client.open(url, method=method)
        # 405 where the same path belongs to a GET-only rule with a text argument (e.g. a trunk kind)
        expected = 405 if method == "POST" and _other_rule_owns(client.application, url) else 404
        assert response.status_code == expected, (url, response.status_code)


def _other_rule_owns(app, url):
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    try:
        app.url_map.bind("localhost").match(url, method="POST")
    except MethodNotAllowed:
        return True
    except NotFound:
        return False
    return False
