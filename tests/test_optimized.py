"""The web workers run with PYTHONOPTIMIZE=2 (`make run`, the README, the benchmark): docstrings
and asserts are gone there, so prove the app still serves its pages that way."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
from app import app
from did_app.db import db
from did_app.reference import seed_reference_data
with app.app_context():
    db.create_all()
    seed_reference_data(db.session)
    db.session.commit()
client = app.test_client()
codes = [client.get(path).status_code for path in ("/healthz", "/setup")]
from did_app.audit import Actor
from did_app.auth import service
from did_app.demo import seed_demo
with app.app_context():
    user, _ = service.create_user(Actor(None, "cli", "cli"), email="ada@example.com", display_name="Ada",
                                  role="admin", password="correct horse battery staple")
    token = service.open_session(user.id)
    seed_demo(60, 1)
    digits = db.session.execute(db.text("SELECT number FROM number LIMIT 1")).scalar().lstrip("+")
with client.session_transaction() as sess:
    sess["_user_id"] = token
    sess["_fresh"] = True
for path in ("/numbers", "/numbers/" + digits, "/billing", "/billing/forecast", "/numbers/add", "/orders",
             "/numbers/export.csv"):
    codes.append(client.get(path).status_code)
print("ok" if set(codes) == {200} else codes, sys.flags.optimize)  # (-OO strips asserts)
"""


def test_app_serves_under_pythonoptimize_2(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'o.sqlite3'}", "SECRET_KEY": "x", "SCHEDULER": "off",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-OO", "-c", SCRIPT], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok 2"
