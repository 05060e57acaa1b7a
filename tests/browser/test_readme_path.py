"""The README's own paths, run the way the README says, in Debian's chromium (issue 8 §1).

`make run` is started for real (its `db upgrade`, `seed-demo --if-empty` and gunicorn), only with the
address moved off :5000 and the database in a temporary file, so a newcomer's first visit is what
this test sees. The database is always SQLite here: that is the README's default path.
"""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import ON_PG

# SQLite is the README's path; the PostgreSQL run of the suite need not repeat it
pytestmark = [pytest.mark.browser, pytest.mark.skipif(ON_PG, reason="the README path runs on SQLite")]
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(db_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SCHEDULER")}
    env.update(DATABASE_URL=f"sqlite:///{db_path}", **extra)
    return env


def _wait_until_served(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"make run did not serve within 90 s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def make_run(tmp_path):
    """`make run` as the README gives it, on a free port; stopped like Ctrl-C at the end."""
    port = _free_port()
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["make", "run", f"ADDR=127.0.0.1:{port}"], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, env=_env(tmp_path / "did.sqlite3"),
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_served(base, proc, log)
        yield base, log
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def page(page, make_run):
    """As tests/browser/conftest.py's page: any request that leaves the served app fails the test."""
    base, _ = make_run
    outside = []

    def guard(route):
        if route.request.url.startswith(base) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)  # a cold gunicorn serving 2,000 numbers on a busy CI machine
    yield page
    expect.set_options(timeout=5_000)
    assert outside == [], f"requests left the host: {outside}"


def _save_settings_unchanged(page, base):
    page.get_by_role("link", name="Review settings").click()
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page.get_by_text("Locked: the ledger already has entries.")).to_be_visible()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_text("Please review the workspace settings")).to_have_count(0)
    page.goto(base + "/numbers")
    expect(page.get_by_text("Please review the workspace settings")).to_have_count(0)


def test_make_run_then_setup_the_first_admin_on_the_demo_data(make_run, page):
    base, log = make_run
    assert "Seeded 2,000 numbers" in log.read_text()

    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_text("Locked: the ledger already has entries.")).to_be_visible()
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and open My Numbers").click()

    expect(page).to_have_url(re.compile(r"/numbers$"))
    expect(page.get_by_text("Welcome. Your workspace is ready.")).to_be_visible()
    expect(page.locator("#numbers-table table.numbers tbody tr")).to_have_count(50)
    expect(page.get_by_text("Please review the workspace settings")).to_have_count(0)
    # the banner is gone because setup reviewed the settings; Settings still saves unchanged
    page.goto(base + "/settings")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()


def test_make_run_then_create_user_then_review_settings_from_the_banner(make_run, page, tmp_path):
    base, _ = make_run
    created = subprocess.run(
        [str(REPO / ".venv/bin/flask"), "--app", "app", "create-user", "ops@example.com", "--role", "admin",
         "--password-stdin"], cwd=REPO, env=_env(tmp_path / "did.sqlite3"), input=PASSWORD + "\n",
        capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr

    page.goto(base + "/numbers")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/numbers$"))
    expect(page.get_by_text("Please review the workspace settings")).to_be_visible()
    _save_settings_unchanged(page, base)
