"""B7: one `flask tick` over the benchmark database with 5% of the numbers due.

It runs on a copy made with the app's own `flask backup` (so the measured database stays as the
HTTP measures left it), at a pretended time (`--at`) chosen so that exactly 5% of the numbers are due:
the expiry of the (N × 5%)-th renewing number, in the renewals job's (expires_at, id) order. The demo
mix makes some of those expiries (billing cycles at 0) rather than renewals; the other jobs run too.
"""
import re
import sqlite3
import subprocess
import sys
import time

from bench.server import REPO, BenchError, Workspace
from bench.stats import Result

BAR_SECONDS = 3.0
_JOB_LINE = re.compile(r"job (\w+): (\d+) rows touched in ([\d.]+) s")
_RENEWING = "expired_at IS NULL AND cancelled_at IS NULL AND porting = 0 AND expires_at IS NOT NULL"


def _due_at(con: sqlite3.Connection, count: int) -> tuple[str, int]:
    """The ISO time at which 5% of `count` numbers are due, and how many are due then."""
    nth = max(1, count * 5 // 100)
    row = con.execute(f"SELECT expires_at FROM number WHERE {_RENEWING} ORDER BY expires_at, id "
                      "LIMIT 1 OFFSET ?", (nth - 1,)).fetchone()
    if row is None:
        raise BenchError(f"B7: fewer than {nth} renewing numbers in the database")
    stored = row[0][:19]  # naive UTC, 'YYYY-MM-DD HH:MM:SS[.ffffff]'
    due = con.execute(f"SELECT count(*) FROM number WHERE {_RENEWING} AND expires_at <= ?", (row[0],)).fetchone()[0]
    return stored.replace(" ", "T") + "Z", due


def b7_tick(ws: Workspace, count: int) -> Result:
    copy = ws.dir / "b7-tick.sqlite3"
    backup_s, _ = ws.flask("backup", str(copy))
    con = sqlite3.connect(copy)
    try:
        at, due = _due_at(con, count)
        expiring = con.execute(f"SELECT count(*) FROM number WHERE {_RENEWING} AND expires_at <= ? "
                               "AND billing_cycles_count = 0", (at.replace("T", " ")[:-1],)).fetchone()[0]
    finally:
        con.close()
    env = {**ws.env, "DATABASE_URL": f"sqlite:///{copy}"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "tick", "--at", at], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-12:]
        raise BenchError("B7: flask tick exited {}:\n  {}".format(done.returncode, "\n  ".join(tail)))
    jobs = {name: {"rows": int(rows), "seconds": float(s)} for name, rows, s in _JOB_LINE.findall(done.stderr)}
    job_s = sum(j["seconds"] for j in jobs.values())
    busy = ", ".join(f"{name} {j['rows']:,} rows {j['seconds']:.2f} s" for name, j in jobs.items() if j["rows"])
    figure = f"{job_s:.2f} s in the jobs ({busy or 'nothing touched'}); {wall:.1f} s wall clock with app start"
    data = {"at": at, "due": due, "due_with_zero_cycles": expiring, "jobs": jobs, "job_seconds": round(job_s, 3),
            "wall_seconds": round(wall, 3), "backup_seconds": round(backup_s, 3), "output": done.stdout}
    return Result("B7", f"One `flask tick` with 5% due ({due:,} numbers, {expiring:,} of them expiring)",
                  figure, f"≤ {BAR_SECONDS:.0f} s", job_s <= BAR_SECONDS, data)
