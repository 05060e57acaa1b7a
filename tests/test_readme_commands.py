"""The README's command lines, run as a newcomer types them (`flask --app app …` in a shell), on a
SQLite file: the commands themselves, not Click's test runner, so their wiring is what is tested."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ON_PG

# SQLite is the README's path; the PostgreSQL run of the suite need not repeat it
pytestmark = pytest.mark.skipif(ON_PG, reason="the README path runs on SQLite")
REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def flask_cmd(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SCHEDULER")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'did.sqlite3'}"

    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=REPO, env=env,
                              input=stdin, capture_output=True, text=True, timeout=120)
    return run


def test_the_readme_commands_in_order(flask_cmd, tmp_path):
    assert flask_cmd("db", "upgrade").returncode == 0
    assert flask_cmd("db", "upgrade").returncode == 0  # "safe to run on every start"

    seeded = flask_cmd("seed-demo", "--numbers", "120", "--if-empty")
    assert seeded.returncode == 0 and "Seeded 120 numbers" in seeded.stdout
    again = flask_cmd("seed-demo", "--if-empty")
    assert again.returncode == 0 and "skipped" in again.stdout
    refused = flask_cmd("seed-demo")
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1

    created = flask_cmd("create-user", "ops@example.com", "--role", "operator")
    assert created.returncode == 0 and "Password (shown once" in created.stdout
    piped = flask_cmd("create-user", "ada@example.com", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert piped.returncode == 0 and "Created admin ada@example.com." in piped.stdout
    bad_role = flask_cmd("create-user", "x@example.com", "--role", "owner")
    assert bad_role.returncode != 0

    tick = flask_cmd("tick", "--at", "2026-12-01T03:00:00Z")
    assert tick.returncode == 0, tick.stderr
    assert {"renewals", "aging", "restore_window", "registration_deadline", "reminders", "deliveries",
            "housekeeping"} <= {line.split(":")[0] for line in tick.stdout.splitlines() if line.strip()}

    backup = flask_cmd("backup", str(tmp_path / "copy.sqlite3"))
    assert backup.returncode == 0 and backup.stdout.splitlines()[0].endswith("copy.sqlite3")
    assert (tmp_path / "copy-proofs.tar.gz").is_file()  # the proof files beside it

    csv_file = tmp_path / "new.csv"
    csv_file.write_text("number,monthly_price,description\n+14155550123,1.00,README import\n")
    dry = flask_cmd("import-numbers", str(csv_file), "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    done = flask_cmd("import-numbers", str(csv_file))
    assert done.returncode == 0, done.stdout + done.stderr
    twice = flask_cmd("import-numbers", str(csv_file))
    assert twice.returncode == 1
    csv_file.write_text("number,monthly_price,description\n+14155550123,1.00,README import\n"
                        "+14155550124,1.00,README import\n")
    skipped = flask_cmd("import-numbers", str(csv_file), "--skip-existing")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
