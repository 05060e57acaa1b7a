"""Browser tests: Debian's chromium driven by Playwright against a live werkzeug server."""
import re
import threading

import pytest
import sqlalchemy as sa
from playwright.sync_api import Locator, expect
from werkzeug.serving import make_server

from did_app import create_app
from did_app.clock import FakeClock
from did_app.db import db
from did_app.workspace import current_workspace
from tests.conftest import ON_PG, PG_URL, T0

CHROMIUM = "/usr/bin/chromium"
ADMIN_EMAIL, ADMIN_NAME = "ada@example.com", "Ada Admin"
PASSWORD = "correct horse battery staple"
_CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# Every Locator action a test takes on a page (click, fill, select_option, …).
_ACTIONS = ("click", "dblclick", "fill", "press", "type", "select_option", "check", "uncheck", "set_checked",
            "set_input_files", "press_sequentially", "tap", "clear")


def _after_load(action):
    def act(self, *args, **kwargs):
        self.page.wait_for_load_state()  # returns at once when the document has loaded
        return action(self, *args, **kwargs)
    return act


@pytest.fixture(scope="session", autouse=True)
def actions_wait_for_the_page():
    """Act on a page only once it has loaded, as a user does. htmx is deferred and binds the page at
    DOMContentLoaded, while an expect can already pass as a new page parses: an htmx step taken then
    is lost, or done by its plain fallback instead (the CI flake of 2026-12-07 in the assign flow).
    So each Locator action first waits for the current document's load event. No assertion waits
    or changes: expects still see the page as it is."""
    with pytest.MonkeyPatch.context() as patch:
        for name in _ACTIONS:
            patch.setattr(Locator, name, _after_load(getattr(Locator, name)))
        yield


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync"]}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    url = PG_URL if ON_PG else f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.sqlite3'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "browser-secret", "SQLALCHEMY_DATABASE_URI": url,
                      "WTF_CSRF_ENABLED": True, "SCHEDULER": "off", "CLOCK": FakeClock(T0)})
    app.instance_path = str(tmp_path_factory.mktemp("instance"))  # uploaded proofs stay out of the repo
    with app.app_context():
        if ON_PG:
            db.drop_all()  # the scratch database may hold an older schema
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def live(live_app, live_server):
    """An empty workspace (reference rows only) before each test."""
    from did_app.reference import seed_reference_data

    with live_app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(sa.delete(table))
        seed_reference_data(db.session)
        db.session.commit()
    return live_server


@pytest.fixture
def page(page, live_server):
    """Every request must go to the live server: anything else is aborted and fails the test."""
    outside = []

    def guard(route):
        if route.request.url.startswith(live_server) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.set_default_timeout(10_000)
    yield page
    assert outside == [], f"requests left the host: {outside}"


@pytest.fixture
def first_admin(live_app, live, page):
    """Sign the page in as the first admin (Ada, PASSWORD), as /setup leaves things, without driving the form.

    For tests that only need an admin signed in: `first_admin()` where they would fill the form. The
    form's own POST goes through the page's request context (which shares the browser's cookies),
    with what the form shows by default, so the app does exactly what a submit does; then the page
    opens My Numbers. The setup form itself is driven in the tests that are about it (README path,
    account, routes, import, billing, capacity).
    """
    def sign_in() -> None:
        form = page.request.get(live + "/setup")
        assert form.ok, f"GET /setup answered {form.status}"
        html = form.text()
        with live_app.app_context():
            ws = current_workspace()  # what GET /setup showed (the defaults when no row exists yet)
            fields = {"workspace_name": ws.name, "time_zone": ws.time_zone,
                      "default_country": ws.default_country, "currency": ws.currency}
            db.session.remove()
        if "Locked: the ledger already has entries." in html:
            del fields["currency"]  # a disabled field: the browser does not send it
        answer = page.request.post(live + "/setup", form={
            "csrf_token": _CSRF_FIELD.search(html).group(1), "display_name": ADMIN_NAME, "email": ADMIN_EMAIL,
            "password": PASSWORD, "confirm": PASSWORD, **fields})
        assert answer.ok and answer.url.endswith("/numbers"), f"POST /setup ended at {answer.url} ({answer.status})"
        page.goto(live + "/numbers")
        expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()

    return sign_in
