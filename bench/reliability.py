"""`python -m bench.reliability`: R2, the renewal half (quality-bars.md).

The scheduler process plus two concurrent `flask tick` runs race over N due numbers for three rounds;
then a tick is killed (SIGKILL) mid-run and the jobs run again. Every renewal must be charged exactly
once and none missed. Prints PASS/FAIL lines; exit 0 when all pass, 1 on any FAIL, 2 when the harness
itself could not run.

How the race is made real: `flask scheduler` cannot be time-shifted, so each round adds N numbers
that are due at the real now, two months behind (three renewals each, the catch-up path), then starts
`flask scheduler` (it runs every job once at start) and two `flask tick --at <now>` at the same moment.
All three work through the same rows, chunk by chunk; the rows each one touched are printed, so the
split shows that they really raced. The scheduler is stopped with SIGTERM at the end of each round.
Then `flask tick --at <a month on>` makes every number due once more, is SIGKILLed when part of that
work is committed, and a second tick finishes it; a third must find nothing to do.

Checks, from the database at the end: each number's renewal ledger keys are exactly
`renewal:{id}:{e0..e3}` (charged once, nothing missed), one `number.renewed` history row per renewal,
each charge equals the number's price, `expires_at` moved exactly four months (`next_expiry`), the
balance equals the initial top-up minus the charges, and the `balance_after` chain has no gap.
"""
import argparse
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta

import sqlalchemy as sa

from bench.server import REPO, SECRET_KEY, BenchError
from bench.server import Workspace as Folder
from did_app import clock, create_app
from did_app.audit import Actor
from did_app.db import db, write_transaction
from did_app.lifecycle import ledger, periods
from did_app.models import AuditEvent, LedgerEntry, Number, Workspace
from did_app.models.numbers import features_mask
from did_app.rules import status
from did_app.workspace import ensure_workspace

MONTHS_BEHIND = 2  # so each round renews every number three times: e0 → e1 → e2 → e3 (> now)
TZ = "UTC"
TIMEOUT = 900


def _step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Race:
    """The temp folder, the in-process app used for setup and checks, and the processes' logs."""

    def __init__(self, numbers: int, rounds: int, keep: bool):
        self.n, self.rounds = numbers, rounds
        self.folder = Folder(keep=keep)
        self.lock = self.folder.dir / "scheduler.lock"
        self.config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.folder.db}", "SECRET_KEY": SECRET_KEY,
                       "SCHEDULER": "off", "SCHEDULER_LOCK": str(self.lock)}
        self.app = None
        self.expected: dict[int, list] = {}  # number id -> [e0, e1, e2, e3, e4]
        self.prices: dict[int, int] = {}
        self.initial_balance = 0
        self.results: list[tuple[bool, str]] = []
        self._logs = 0

    # ---- processes -------------------------------------------------------------------------------

    def _log(self, name: str):
        self._logs += 1
        return open(self.folder.dir / f"{self._logs:02d}-{name}.log", "w+")

    def scheduler(self) -> tuple[subprocess.Popen, object]:
        """`flask scheduler` on the temp database, with its lock file in the temp folder."""
        log = self._log("scheduler")
        spec = f"did_app:create_app({self.config!r})"
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", spec, "scheduler"], cwd=REPO,
                                env=self.folder.env, stdout=log, stderr=subprocess.STDOUT, text=True)
        return proc, log

    def tick(self, at, name="tick") -> tuple[subprocess.Popen, object]:
        """`flask --app app tick --at AT`, configured by the environment as an operator's cron would be."""
        log = self._log(name)
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "tick", "--at",
                                 periods.iso_key(at)], cwd=REPO, env=self.folder.env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
        return proc, log

    @staticmethod
    def text(log) -> str:
        log.flush()
        log.seek(0)
        return log.read()

    @staticmethod
    def renewals_touched(text: str) -> int | None:
        """Rows the renewals job touched, from a tick's output or the scheduler's log."""
        m = re.search(r"^renewals: (\d+) rows$", text, re.M) or re.search(r"job renewals: (\d+) rows touched", text)
        return int(m.group(1)) if m else None

    def check(self, ok: bool, text: str) -> bool:
        self.results.append((ok, text))
        print(f"{'PASS' if ok else 'FAIL'} {text}", flush=True)
        return ok

    # ---- setup -----------------------------------------------------------------------------------

    def prepare(self) -> None:
        _step(f"workspace {self.folder.dir}: flask db upgrade")
        self.folder.flask("db", "upgrade")
        self.app = create_app(self.config)
        per_number_max = 4 * 149  # four months at the highest price below
        self.initial_balance = self.n * self.rounds * per_number_max * 2
        with self.app.app_context():
            with write_transaction() as session:
                ws = ensure_workspace(session)
                ws.time_zone = TZ
                session.flush()
                ledger.post(session, "top_up", [ledger.Entry(self.initial_balance, note="R2 bench")],
                            Actor(None, "cli", "cli"))
            db.session.remove()
            db.engine.dispose()

    def add_cohort(self, k: int) -> None:
        """N numbers due now, MONTHS_BEHIND months behind; remembers each one's expected expiries."""
        now = clock.SystemClock().now()
        rows = []
        for i in range(self.n):
            base = (now - timedelta(seconds=60 + (i * 7) % 600)).replace(microsecond=0)
            anchor = periods.anchor_day_of(base, TZ)
            e0 = periods.next_expiry(base, -MONTHS_BEHIND, anchor, TZ)
            rows.append(dict(number=f"+4420{k}{i:07d}", country="GB", number_type="local",
                             features=features_mask(["voice_in"]), capacity_mode="two_included",
                             channels_included=2, monthly_price_minor=100 + i % 50, setup_price_minor=0,
                             billing_anchor_day=anchor, expires_at=e0, created_at=now,
                             description=f"R2 round {k}"))
        with self.app.app_context():
            with write_transaction() as session:
                for start in range(0, len(rows), 2000):
                    session.execute(sa.insert(Number), rows[start:start + 2000])
                status.recompute(Number.description == f"R2 round {k}")
            got = db.session.execute(sa.select(Number.id, Number.expires_at, Number.billing_anchor_day,
                                               Number.monthly_price_minor)
                                     .where(Number.description == f"R2 round {k}")).all()
            db.session.remove()
            db.engine.dispose()
        for number_id, e0, anchor, price in got:
            chain = [e0]
            for _ in range(MONTHS_BEHIND + 2):
                chain.append(periods.next_expiry(chain[-1], 1, anchor, TZ))
            assert chain[MONTHS_BEHIND] <= now < chain[MONTHS_BEHIND + 1], "cohort not due as designed"
            self.expected[number_id] = chain
            self.prices[number_id] = price

    # ---- the race ----------------------------------------------------------------------------------

    def race_round(self, k: int) -> None:
        self.add_cohort(k)
        at = clock.SystemClock().now()
        _step(f"round {k}: {self.n:,} numbers due ({MONTHS_BEHIND + 1} months each); "
              f"flask scheduler + 2 × flask tick --at {periods.iso_key(at)}")
        started = time.perf_counter()
        sched, sched_log = self.scheduler()
        ticks = [self.tick(at, f"round{k}-tick{j}") for j in (1, 2)]
        deadline = time.monotonic() + TIMEOUT
        try:
            if k == 1:
                self._second_scheduler_refused(sched, sched_log, deadline)
            for proc, _ in ticks:
                proc.wait(max(1, deadline - time.monotonic()))
            while self.renewals_touched(self.text(sched_log)) is None and "job renewals: failed" not in self.text(sched_log):
                if sched.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"flask scheduler never finished its start-up run:\n{self.text(sched_log)[-2000:]}")
                time.sleep(0.1)
            sched.send_signal(signal.SIGTERM)
            code = sched.wait(60)
        finally:
            for proc, _ in [(sched, None), *ticks]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        seconds = time.perf_counter() - started
        out = self.text(sched_log)
        self.check(code == 0 and out.rstrip().endswith("Scheduler stopped."),
                   f"round {k}: flask scheduler stopped cleanly on SIGTERM (exit {code})")
        touched = {"scheduler": self.renewals_touched(out)}
        for j, (proc, log) in enumerate(ticks, 1):
            text = self.text(log)
            self.check(proc.returncode == 0, f"round {k}: tick {j} exited {proc.returncode}"
                       + ("" if proc.returncode == 0 else f": {text.strip().splitlines()[-1:]}"))
            touched[f"tick {j}"] = self.renewals_touched(text)
        total = sum(v or 0 for v in touched.values())
        split = ", ".join(f"{name} {v if v is not None else '?'}" for name, v in touched.items())
        self.check(total == self.n * (MONTHS_BEHIND + 1),
                   f"round {k}: {total:,} renewals in {seconds:.1f} s, each taken by one process ({split})")

    def _second_scheduler_refused(self, sched, sched_log, deadline) -> None:
        while "Scheduler running" not in self.text(sched_log):
            if sched.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"flask scheduler did not start:\n{self.text(sched_log)[-2000:]}")
            time.sleep(0.05)
        second, log = self.scheduler()
        code = second.wait(120)
        line = self.text(log).strip().splitlines()[-1:] or [""]
        self.check(code == 1 and line[0].startswith("Another scheduler is already running"),
                   f"a second flask scheduler refuses while the first holds the lock (exit {code}: {line[0]})")

    def kill_and_rerun(self) -> None:
        at = max(chain[MONTHS_BEHIND + 1] for chain in self.expected.values()) + timedelta(minutes=1)
        if not all(chain[MONTHS_BEHIND + 2] > at for chain in self.expected.values()):
            raise BenchError("the kill round's --at would make some numbers due twice")
        total = len(self.expected)
        before = self._renewal_rows()
        _step(f"kill: flask tick --at {periods.iso_key(at)} ({total:,} renewals due), SIGKILL mid-run")
        proc, log = self.tick(at, "kill-tick")
        committed = before
        deadline = time.monotonic() + TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            committed = self._renewal_rows()
            if committed - before >= max(500, total // 5):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        proc.wait()
        done = self._renewal_rows() - before
        self.check(proc.returncode == -signal.SIGKILL and 0 < done < total,
                   f"the tick was SIGKILLed mid-run with {done:,} of {total:,} renewals committed "
                   f"(exit {proc.returncode})")
        again, log = self.tick(at, "rerun-tick")
        code = again.wait(TIMEOUT)
        text = self.text(log)
        self.check(code == 0 and self.renewals_touched(text) == total - done,
                   f"the jobs run again: exit {code}, renewals touched {self.renewals_touched(text)} "
                   f"(the {total - done:,} left)")
        third, log = self.tick(at, "third-tick")
        code = third.wait(TIMEOUT)
        self.check(code == 0 and self.renewals_touched(self.text(log)) == 0,
                   f"a third run finds nothing to renew ({self.renewals_touched(self.text(log))} rows)")

    def _renewal_rows(self) -> int:
        con = sqlite3.connect(f"file:{self.folder.db}?mode=ro", uri=True, timeout=15)
        try:
            return con.execute("SELECT count(*) FROM ledger_entry WHERE kind = 'renewal'").fetchone()[0]
        finally:
            con.close()

    # ---- the verdict -------------------------------------------------------------------------------

    def verify(self) -> None:
        months = MONTHS_BEHIND + 2  # three in the rounds, one in the kill round
        with self.app.app_context():
            s = db.session
            keys = defaultdict(set)
            rows = s.execute(sa.select(LedgerEntry.number_id, LedgerEntry.idempotency_key, LedgerEntry.amount_minor)
                             .where(LedgerEntry.kind == "renewal")).all()
            wrong_amount = 0
            for number_id, key, amount in rows:
                keys[number_id].add(key)
                wrong_amount += amount != -self.prices.get(number_id, 0)
            per_number = Counter(number_id for number_id, _, _ in rows)
            doubled = sum(1 for c in per_number.values() if c > months)
            missed = sum(1 for nid in self.expected if per_number.get(nid, 0) < months)
            exact = sum(1 for nid, chain in self.expected.items()
                        if keys[nid] == {f"renewal:{nid}:{periods.iso_key(t)}" for t in chain[:months]})
            self.check(len(rows) == len(self.expected) * months and exact == len(self.expected)
                       and doubled == 0 and missed == 0,
                       f"each renewal charged exactly once: {len(rows):,} renewal rows for {len(self.expected):,} "
                       f"numbers × {months} months; {exact:,} numbers with exactly the expected keys, "
                       f"{doubled} charged twice, {missed} missed")
            self.check(wrong_amount == 0, f"each charge is the number's price ({wrong_amount} wrong)")
            history = Counter(s.scalars(sa.select(AuditEvent.object_id).where(AuditEvent.action == "number.renewed")))
            self.check(all(history.get(nid, 0) == months for nid in self.expected) and
                       sum(history.values()) == len(self.expected) * months,
                       f"one number.renewed history row per renewal ({sum(history.values()):,})")
            state = {nid: (at, expired, cancelled) for nid, at, expired, cancelled in s.execute(
                sa.select(Number.id, Number.expires_at, Number.expired_at, Number.cancelled_at))}
            moved = sum(1 for nid, chain in self.expected.items()
                        if state.get(nid, (None,))[0] == chain[months] and state[nid][1] is None
                        and state[nid][2] is None)
            self.check(moved == len(self.expected),
                       f"expires_at advanced exactly {months} months on {moved:,} of {len(self.expected):,} "
                       "numbers, none expired")
            balance = s.scalar(sa.select(Workspace.balance_minor))
            charged = sum(self.prices[nid] * months for nid in self.expected)
            ledger_sum = s.scalar(sa.select(sa.func.sum(LedgerEntry.amount_minor)))
            self.check(balance == self.initial_balance - charged == ledger_sum,
                       f"balance {balance:,} = initial {self.initial_balance:,} − charges {charged:,} "
                       f"= sum of the ledger {ledger_sum:,}")
            chain = s.execute(sa.select(LedgerEntry.amount_minor, LedgerEntry.balance_after_minor)
                              .order_by(LedgerEntry.id)).all()
            running, gaps = 0, 0
            for amount, after in chain:
                running += amount
                gaps += running != after
            self.check(gaps == 0, f"balance_after follows every ledger row in order ({gaps} breaks)")
            db.session.remove()
            db.engine.dispose()


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.splitlines()[0])
    p.add_argument("--numbers", type=int, default=10_000, help="due numbers added per round (default 10000)")
    p.add_argument("--rounds", type=int, default=3, help="race rounds (default 3)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder, its database and the logs")
    args = p.parse_args(argv)
    if not 1 <= args.numbers <= 1_000_000 or not 1 <= args.rounds <= 9:
        p.error("--numbers must be 1..1000000 and --rounds 1..9")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    race = Race(args.numbers, args.rounds, args.keep)
    started = time.perf_counter()
    try:
        race.prepare()
        for k in range(1, args.rounds + 1):
            race.race_round(k)
        race.kill_and_rerun()
        _step("checking the ledger, history, expiries and balance …")
        race.verify()
    except (BenchError, subprocess.TimeoutExpired, AssertionError) as exc:
        print(f"\nbench.reliability could not run: {exc}", file=sys.stderr)
        race.folder.keep = True  # the logs are the diagnosis
        race.folder.cleanup()
        return 2
    failed = [text for ok, text in race.results if not ok]
    race.folder.keep = race.folder.keep or bool(failed)
    race.folder.cleanup()
    print(f"\nR2 (renewals): {len(race.results) - len(failed)} passed, {len(failed)} failed "
          f"in {time.perf_counter() - started:.0f} s.")
    if failed:
        print("FAIL R2")
        return 1
    print("PASS R2")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
