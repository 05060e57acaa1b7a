"""Fixtures: app (fresh SQLite file per test, or PostgreSQL truncated per test), client, hx, login."""
import os
import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from jinja2 import StrictUndefined

from did_app import create_app
from did_app.clock import FakeClock
from did_app.db import db
from tests.delivery_sinks import http_receiver, smtp_sink  # noqa: F401  (fixtures for every test)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
PG_URL = os.environ.get("DATABASE_URL", "")
ON_PG = PG_URL.startswith("postgresql")


def _worker_database(url: str, worker: str) -> str:
    """Each pytest-xdist worker gets its own PostgreSQL database beside DATABASE_URL's (created once;
    the role has CREATEDB), since every test truncates every table."""
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


if ON_PG and os.environ.get("PYTEST_XDIST_WORKER"):
    PG_URL = _worker_database(PG_URL, os.environ["PYTEST_XDIST_WORKER"])
_pg_tables_created = False


def _config(tmp_path, clock):
    url = PG_URL if ON_PG else f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return {"TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": True, "SCHEDULER": "off", "CLOCK": clock,
            "SERVER_NAME": None}


def reset_database(app):
    """Fresh schema (SQLite) or emptied tables (PostgreSQL), plus the reference rows."""
    global _pg_tables_created
    from did_app.reference import seed_reference_data

    with app.app_context():
        if ON_PG:
            if not _pg_tables_created:
                db.drop_all()
                db.create_all()
                _pg_tables_created = True
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            db.session.commit()
        else:
            db.create_all()
        seed_reference_data(db.session)
        db.session.commit()


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def app(tmp_path, clock):
    app = create_app(_config(tmp_path, clock))
    app.instance_path = str(tmp_path / "instance")  # proofs and imports a test writes stay in its tmp folder
    app.jinja_env.undefined = StrictUndefined
    reset_database(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, role="operator", email=None):
    """Make a user with `role` and log the client in: a real session row, its id in Flask-Login's
    session keys (as the login form leaves them). The row does not expire after 14 days, so tests
    that move the clock far ahead stay signed in (a form login does expire: test_auth.py)."""
    from did_app.audit import Actor
    from did_app.auth import service
    from did_app.models import UserSession

    app = client.application
    email = email or f"{role}{os.urandom(3).hex()}@example.com"
    with app.app_context():
        user, _ = service.create_user(Actor(None, "cli", "cli"), email=email, display_name=role.title(),
                                      role=role, password="correct horse battery staple")
        user_id = user.id
        token = service.open_session(user_id)
        db.session.execute(sa.update(UserSession).where(UserSession.user_id == user_id)
                           .values(expires_at=datetime(2100, 1, 1, tzinfo=timezone.utc)))
        db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True
    return user_id


def csrf_from(html: str) -> str:
    m = re.search(r'"X-CSRFToken": "([^"]+)"', html) or re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class HX:
    """Requests as htmx sends them: HX-Request and the page's CSRF token."""

    def __init__(self, client, boosted=False):
        self.client, self.boosted, self.token = client, boosted, None

    def headers(self, extra=None):
        h = {"HX-Request": "true", "HX-Current-URL": "http://localhost/numbers"}
        if self.boosted:
            h["HX-Boosted"] = "true"
        if self.token:
            h["X-CSRFToken"] = self.token
        h.update(extra or {})
        return h

    def load_token(self, path="/numbers"):
        self.token = csrf_from(self.client.get(path).get_data(as_text=True))
        return self.token

    def get(self, path, **kw):
        return self.client.get(path, headers=self.headers(kw.pop("headers", None)), **kw)

    def post(self, path, **kw):
        if self.token is None:
            self.load_token()
        return self.client.post(path, headers=self.headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def hx(client):
    return HX(client)


@pytest.fixture
def rendered(app):
    """(template name, blocks) for every render, including jinja2-fragments block renders."""
    from flask import template_rendered
    from jinja2_fragments.flask import template_block_rendered, template_blocks_rendered

    seen = []

    def full(sender, template, context, **extra):
        seen.append((template.name, None))

    def block(sender, template_name, block_name, context, **extra):
        seen.append((template_name, [block_name]))

    def blocks(sender, template_name, block_names, context, **extra):
        seen.append((template_name, list(block_names)))

    template_rendered.connect(full, app)
    template_block_rendered.connect(block, app)
    template_blocks_rendered.connect(blocks, app)
    yield seen
    template_rendered.disconnect(full, app)
    template_block_rendered.disconnect(block, app)
    template_blocks_rendered.disconnect(blocks, app)
