"""EXPLAIN QUERY PLAN and a timing of every SQL statement behind the main pages.

    .venv/bin/python -m bench.explain PATH/TO/bench.sqlite3      # e.g. a database kept with --keep

It runs the app in-process (test client, real login), records each statement a page executes
with its parameters, then re-runs every SELECT on its own with sqlite3: its plan, and its median
time to fetch all rows. A line marked "<<" scans the table without an index or sorts in a temp
B-tree: the first places to look when a page is slow.
"""
import argparse
import random
import re
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench import data
from bench.server import EMAIL, PASSWORD, SECRET_KEY

_SPACES = re.compile(r"\s+")


@dataclass
class Statement:
    sql: str
    params: tuple
    ms: float = 0.0
    rows: int = 0
    plan: list[str] = field(default_factory=list)

    @property
    def suspicious(self) -> list[str]:
        # a scan of a ten-row table is fine; flag only statements that cost something
        return [line for line in self.plan if _is_suspicious(line)] if self.ms >= 0.5 else []


def _is_suspicious(line: str) -> bool:
    text = line.upper()
    if "TEMP B-TREE" in text:
        return True
    return text.startswith("SCAN") and "COVERING INDEX" not in text and "USING INDEX" not in text \
        and "CONSTANT ROW" not in text


@dataclass
class PageProfile:
    name: str
    path: str
    request_ms: float
    statements: list[Statement]

    @property
    def sql_ms(self) -> float:
        return sum(s.ms for s in self.statements)

    def slowest(self) -> Statement | None:
        return max(self.statements, key=lambda s: s.ms, default=None)

    def as_dict(self) -> dict:
        return {"path": self.path, "request_ms_in_process": round(self.request_ms, 2),
                "sql_ms": round(self.sql_ms, 2), "statements": [
                    {"ms": round(s.ms, 3), "rows": s.rows, "sql": short(s.sql, 400), "plan": s.plan}
                    for s in sorted(self.statements, key=lambda s: -s.ms)]}


def short(sql: str, width: int = 160) -> str:
    text = _SPACES.sub(" ", sql).strip()
    return text if len(text) <= width else text[:width - 1] + "…"


class _Recorder:
    def __init__(self):
        self.on = False
        self.statements: list[tuple[str, tuple]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and not executemany:
            self.statements.append((statement, tuple(parameters or ())))


def _plan(con, sql: str, params: tuple) -> list[str]:
    rows = con.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    depth = {0: 0}
    out = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, 0) + 1
        out.append("  " * (depth[node] - 1) + detail)
    return out


def _time(con, sql: str, params: tuple, repeat: int) -> tuple[float, int]:
    times, count = [], 0
    deadline = time.monotonic() + 10
    for _ in range(repeat):
        start = time.perf_counter()
        count = len(con.execute(sql, params).fetchall())
        times.append(time.perf_counter() - start)
        if time.monotonic() > deadline:
            break
    return statistics.median(times) * 1000, count


def profile(db: Path, pages: dict[str, str], repeat: int = 15, email: str = EMAIL,
            password: str = PASSWORD) -> list[PageProfile]:
    """Each page's statements, plans and times; `pages` maps a name to a path ('POST-LIST:' + text
    first saves a pasted list and profiles the page it leads to)."""
    from did_app import create_app  # the app is imported only when profiling

    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": SECRET_KEY,
                      "SCHEDULER": "off", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": password})
    if resp.status_code not in (302, 303):
        raise SystemExit(f"login as {email} failed ({resp.status_code}); pass --email/--password")
    recorder = _Recorder()
    event.listen(Engine, "before_cursor_execute", recorder)
    con = data.connect(db)
    out = []
    try:
        for name, path in pages.items():
            if path.startswith("POST-LIST:"):
                saved = client.post("/numbers/lists", data={"q": path[len("POST-LIST:"):]})
                loc = urlsplit(saved.headers.get("Location", ""))
                path = loc.path + ("?" + loc.query if loc.query else "")
            for _ in range(2):
                client.get(path, buffered=True)
            recorder.statements.clear()
            recorder.on = True
            resp = client.get(path, buffered=True)  # buffered: a streamed body (CSV) runs its SQL now
            recorder.on = False
            if resp.status_code != 200:
                raise SystemExit(f"{path} answered {resp.status_code}")
            times = []
            deadline = time.monotonic() + 30
            for _ in range(repeat):
                if times and time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                client.get(path, buffered=True)
                times.append(time.perf_counter() - start)
            statements = []
            for sql, params in recorder.statements:
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                st = Statement(sql, params)
                st.plan = _plan(con, sql, params)
                st.ms, st.rows = _time(con, sql, params, repeat)
                statements.append(st)
            out.append(PageProfile(name, path, statistics.median(times) * 1000, statements))
    finally:
        event.remove(Engine, "before_cursor_execute", recorder)
        con.close()
    return out


def print_profiles(profiles: list[PageProfile], plans: bool = True, file=sys.stdout) -> None:
    for p in profiles:
        print(f"\n== {p.name}: {p.path[:110]}", file=file)
        print(f"   request in-process {p.request_ms:.1f} ms; {len(p.statements)} SELECTs take "
              f"{p.sql_ms:.1f} ms when run alone", file=file)
        for st in sorted(p.statements, key=lambda s: -s.ms):
            flag = "  <<" if st.suspicious else ""
            print(f"   {st.ms:7.2f} ms {st.rows:6d} rows  {short(st.sql)}{flag}", file=file)
            if plans:
                for line in st.plan:
                    print(f"{'':24}{line}", file=file)


def default_pages(db: Path, seed: int = 1) -> dict[str, str]:
    con = data.connect(db)
    try:
        rng = random.Random(seed)
        pick = data.pick_b2_filter(con)
        paste = data.paste_list(con, rng)
        detail = data.details_sample(con, rng, 1)[0]
    finally:
        con.close()
    b2 = "/numbers?" + urlencode({"status": "not_configured", "country": pick.country,
                                  "description": pick.word, "sort": "expires"})
    return {"B1 default page": "/numbers", "B2 filtered page": b2,
            "B3 saved-list page (500 pasted)": "POST-LIST:" + paste.text,
            "B8 details page": f"/numbers/{detail}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="an SQLite database made by the bench (see --keep)")
    parser.add_argument("--email", default=EMAIL)
    parser.add_argument("--password", default=PASSWORD)
    parser.add_argument("--path", action="append", default=[], help="profile this path instead (repeatable)")
    parser.add_argument("--no-plans", action="store_true", help="times only")
    args = parser.parse_args(argv)
    if not args.db.exists():
        parser.error(f"{args.db} does not exist")
    pages = {p: p for p in args.path} if args.path else default_pages(args.db)
    print_profiles(profile(args.db, pages, email=args.email, password=args.password),
                   plans=not args.no_plans)
    print(f"\nSQLite {sqlite3.sqlite_version}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
