"""The app under a sub-path (SCRIPT_NAME, e.g. behind a proxy at /did): every link, form, htmx URL
and icon on My Numbers and the details page starts with the sub-path (issue 8 §5), and the table's
cached cells still escape what they print."""
import re
from datetime import timedelta
from types import SimpleNamespace

from did_app import clock
from did_app.numbers import cells
from tests import factories as f
from tests.conftest import login

BASE = "http://localhost/did"
_URL_ATTRS = re.compile(r'\s(?:href|src|action|hx-get|hx-post|hx-put|hx-delete|hx-patch)="([^"]*)"')


def _inventory(app) -> list[str]:
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        sms = f.make_sms_trunk(name="sms-main")
        numbers = [
            f.make_number(voice_route_id=trunk.id, description="Sales London"),
            f.make_number(features=("voice_in", "sms_in"), sms_route_id=sms.id, billing_cycles_count=0,
                          expires_at=clock.now() + timedelta(days=3)),
            f.make_number(description="unrouted support"),
        ]
        return [n.digits for n in numbers]


def _absolute_urls(html: str) -> list[str]:
    """Every URL the page links, posts or loads that names a path on this host."""
    urls = [u.replace("&amp;", "&") for u in _URL_ATTRS.findall(html)]
    return [u for u in urls if u.startswith("/")]


def _outside(html: str) -> list[str]:
    return [u for u in _absolute_urls(html) if not u.startswith("/did/") and u != "/did"]


def test_every_url_on_my_numbers_starts_with_the_sub_path(app, client):
    digits = _inventory(app)
    login(client, "operator")
    client.get("/numbers")  # a request at the root first: nothing built for it may leak into the next
    response = client.get("/numbers", base_url=BASE)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    urls = _absolute_urls(html)
    assert f"/did/numbers/{digits[0]}" in urls
    assert any(re.fullmatch(r"/did/numbers/\d+/cells/description/edit", u) for u in urls)  # the inline editors
    assert 'href="/did/static/icons.svg#' in html  # feature and route icons
    assert _outside(html) == []
    fragment = client.get("/numbers?sort=-number", base_url=BASE, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and _outside(fragment.get_data(as_text=True)) == []
    root = client.get("/numbers").get_data(as_text=True)  # and back at the root: no /did anywhere
    assert "/did/" not in root and f'href="/numbers/{digits[0]}"' in root


def test_every_url_on_the_details_page_starts_with_the_sub_path(app, client):
    digits = _inventory(app)
    login(client, "operator")
    for d in digits:
        response = client.get(f"/numbers/{d}", base_url=BASE)
        assert response.status_code == 200
        assert _outside(response.get_data(as_text=True)) == []


def test_a_viewer_under_the_sub_path_gets_the_same_links(app, client):
    _inventory(app)
    login(client, "viewer")
    html = client.get("/numbers", base_url=BASE).get_data(as_text=True)
    assert "cells/description/edit" not in html and _outside(html) == []


def test_service_chips_escape_their_label_and_status(app):
    evil = SimpleNamespace(label="<script>alert(1)</script>", status='x" onmouseover="alert(2)')
    with app.test_request_context():
        html = str(cells.services_for([evil]))
    assert "<script>" not in html and 'onmouseover="' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "dot-x&#34; onmouseover=&#34;alert(2)" in html


def test_a_route_name_is_escaped_in_its_cell(app, client):
    with app.app_context():
        trunk = f.make_voice_trunk(name='<img src=x onerror="alert(1)">')
        f.make_number(voice_route_id=trunk.id)
    login(client, "viewer")
    html = client.get("/numbers").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_an_anonymous_request_under_the_sub_path_comes_back_to_it_after_login(app, client):
    login(client, role="viewer")  # a user exists, so the request is not sent to /setup
    anonymous = app.test_client()
    response = anonymous.get("/numbers?sort=-expires", base_url=BASE)
    assert response.status_code == 302
    assert "next=/did/numbers?sort%3D-expires" in response.headers["Location"]
