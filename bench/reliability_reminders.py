"""`python -m bench.reliability_reminders`: R2, the reminder half (quality-bars.md).

The scheduler process plus two concurrent `flask tick` runs race over N due reminder subjects for
three rounds; then a tick is SIGKILLed between sending a delivery and marking it sent, and the jobs
run again. Each reminder must be claimed exactly once and shown once in-app, each email digest and
webhook delivered at least once, and a duplicate only for what the kill interrupted, with the same
Message-ID or X-DidApp-Delivery. Prints PASS/FAIL lines; exit 0 when all pass, 1 on any FAIL, 2 when
the harness itself could not run. Reuses bench/reliability.py's Race (processes, logs, checks).

The set-up. A temp SQLite database; an SMTP sink and an HTTP receiver run in this process
(bench/sinks.py), SMTP configured through the environment (SMTP_HOST/SMTP_PORT, as cron would run
`flask tick`), the webhook through the workspace settings. Subjects are numbers with 0 billing cycles
(kind expiring_no_renewal, offsets 30/7/1), expiring on local days today+1 … today+31, so each is due
at some offset now or tomorrow. The digest hour is 0 and the workspace time zone one whose local time
is about noon, so no run of the bench crosses a local midnight.

The rounds. `flask scheduler` runs on real time, so each round adds N subjects due at the real now
(round r's on its own due days, so a (kind, due_on, offset) group belongs to one round) and two new
opted-in users (a user gets one digest a day), then starts `flask scheduler` (it runs every job at
start) and two `flask tick --at <now>` at once; the reminders rows each process touched are printed.

The kill. The clock moves a day (`tick --at` tomorrow): new offsets come due, every user is due a
digest. Tick A is SIGKILLed while the SMTP sink holds the first digest unanswered (the sink has it,
the database says 'sending'); tick B, a minute later, is SIGKILLed the same way at the first webhook.
Then a tick 31 minutes later (past the 30 minutes after which a 'sending' row counts as stuck)
sends what is left and resends the two interrupted deliveries, and one more finds nothing to do.
"""
import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.reliability import TIMEOUT, Race, _step
from bench.server import BenchError
from bench.sinks import HttpReceiver, SmtpSink, signature_ok
from did_app import clock
from did_app.audit import Actor
from did_app.auth import service as auth_service
from did_app.db import db, write_transaction
from did_app.lifecycle import periods
from did_app.models import Delivery, DigestItem, Notification, Number, ReminderClaim, User
from did_app.models.numbers import features_mask
from did_app.notifications.deliveries import STUCK_AFTER
from did_app.rules import status
from did_app.workspace import ensure_workspace

KIND = "expiring_no_renewal"
OFFSETS = (1, 7, 30)
DUE_DAYS = range(1, 32)  # today+1 … today+31: due now at one offset, or tomorrow
USERS_PER_ROUND = 2
SECRET = "bench-webhook-secret-bench-webhook"
BASE_URL = "http://did.bench.example"
STUCK_WAIT = STUCK_AFTER + timedelta(minutes=1)  # past deliveries.STUCK_AFTER


def noon_zone(now: datetime) -> str:
    """An Etc/GMT zone in which `now` is about noon, so local midnight is ~12 hours away."""
    off = 12 - now.hour
    off = off - 24 if off > 14 else off + 24 if off < -12 else off
    return "Etc/GMT" if off == 0 else f"Etc/GMT{'-' if off > 0 else '+'}{abs(off)}"  # POSIX sign: inverted


def expected_claims(due_on: date, run_days: list[date]) -> dict[int, tuple[str, date]]:
    """offset → (state, day first recorded) for a subject due `due_on`, run on `run_days` (claims.py:
    the smallest due offset is claimed, the larger ones skipped, an existing row is kept)."""
    rows = {}
    for day in sorted(set(run_days)):
        k = (due_on - day).days
        if not 0 <= k <= max(OFFSETS):
            continue
        due = [o for o in OFFSETS if o >= k]
        for o in due:
            rows.setdefault(o, ("claimed" if o == min(due) else "skipped", day))
    return rows


def reminders_touched(text: str) -> int | None:
    """Rows the reminders job touched, from a tick's output or the scheduler's log."""
    m = re.search(r"^reminders: (\d+) rows$", text, re.M) or re.search(r"job reminders: (\d+) rows touched", text)
    return int(m.group(1)) if m else None


class ReminderRace(Race):
    def __init__(self, subjects: int, rounds: int, keep: bool):
        super().__init__(subjects, rounds, keep)
        self.smtp, self.hook = SmtpSink(), HttpReceiver()
        self.smtp.start()
        self.hook.start()
        sinks = {"SMTP_HOST": self.smtp.host, "SMTP_PORT": str(self.smtp.port), "BASE_URL": BASE_URL,
                 "SMTP_FROM": "did-app@bench.example"}
        self.folder.env.update(sinks)  # the ticks: configured by the environment
        self.config.update(sinks)  # the scheduler and this process: create_app(config) reads no environment
        self.config["SMTP_PORT"] = self.smtp.port
        self.started = clock.SystemClock().now()
        self.tz = noon_zone(self.started)
        self.today = self.started.astimezone(ZoneInfo(self.tz)).date()
        self.due: dict[int, date] = {}  # subject id → due day
        self.round_of: dict[int, int] = {}
        self.held: dict[str, str] = {}  # channel → the id of the delivery the kill interrupted
        self.timings: list[str] = []
        self.run_days: list[date] = [self.today]  # the local days the jobs ran on

    def close(self) -> None:
        self.smtp.stop()
        self.hook.stop()

    # ---- setup -----------------------------------------------------------------------------------

    def prepare(self) -> None:
        _step(f"workspace {self.folder.dir}: flask db upgrade; time zone {self.tz} "
              f"(local {self.started.astimezone(ZoneInfo(self.tz)):%H:%M})")
        self.folder.flask("db", "upgrade")
        from did_app import create_app
        self.app = create_app(self.config)
        with self.app.app_context():
            with write_transaction() as session:
                ws = ensure_workspace(session)
                ws.time_zone, ws.digest_hour, ws.reminder_offsets = self.tz, 0, list(OFFSETS)
                ws.webhook_url, ws.webhook_secret, ws.webhook_enabled = self.hook.url, SECRET, True
            self._dispose()

    def _dispose(self) -> None:
        db.session.remove()
        db.engine.dispose()

    def _local(self, day: date, hour: int) -> datetime:
        return datetime.combine(day, clock_time(hour), ZoneInfo(self.tz)).astimezone(timezone.utc)

    def add_round(self, r: int) -> int:
        """N subjects due on this round's days, and two opted-in users; the claims expected now."""
        days = [k for k in DUE_DAYS if (k - r) % self.rounds == 0]
        now = clock.SystemClock().now()
        rows = []
        for i in range(self.n):
            due = self.today + timedelta(days=days[i % len(days)])
            expires = self._local(due, 18)
            rows.append(dict(number=f"+4420{r}{i:07d}", country="GB", number_type="local",
                             features=features_mask(["voice_in"]), capacity_mode="two_included",
                             channels_included=2, monthly_price_minor=100, setup_price_minor=0,
                             billing_anchor_day=periods.anchor_day_of(expires, self.tz), expires_at=expires,
                             billing_cycles_count=0, created_at=now, description=f"R2r round {r}"))
        with self.app.app_context():
            with write_transaction() as session:
                for start in range(0, len(rows), 2000):
                    session.execute(sa.insert(Number), rows[start:start + 2000])
                status.recompute(Number.description == f"R2r round {r}")
            for (number_id, expires_at) in db.session.execute(sa.select(Number.id, Number.expires_at)
                                                              .where(Number.description == f"R2r round {r}")):
                self.due[number_id] = expires_at.astimezone(ZoneInfo(self.tz)).date()
                self.round_of[number_id] = r
            for j in range(USERS_PER_ROUND):
                user, _ = auth_service.create_user(Actor(None, "cli", "cli"), email=f"r{r}u{j}@bench.example",
                                                   display_name=f"Round {r} user {j}", role="viewer",
                                                   password="Quarter-Tempo-4711")
                with write_transaction() as session:
                    session.get(User, user.id).digest_opt_in = True
            self._dispose()
        return sum(1 for nid, r2 in self.round_of.items() if r2 == r
                   for state, day in expected_claims(self.due[nid], [self.today]).values() if state == "claimed")

    # ---- the race ----------------------------------------------------------------------------------

    def race_round(self, r: int) -> None:
        expected = self.add_round(r)
        at = clock.SystemClock().now()
        _step(f"round {r}: {self.n:,} subjects ({expected:,} reminders due now); "
              f"flask scheduler + 2 × flask tick --at {periods.iso_key(at)}")
        started = time.perf_counter()
        sched, sched_log = self.scheduler()
        ticks = [self.tick(at, f"round{r}-tick{j}") for j in (1, 2)]
        deadline = time.monotonic() + TIMEOUT
        try:
            for proc, _ in ticks:
                proc.wait(max(1, deadline - time.monotonic()))
            while not self._start_up_run_done(self.text(sched_log)):
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
                   f"round {r}: flask scheduler stopped cleanly on SIGTERM (exit {code})")
        touched = {"scheduler": reminders_touched(out)}
        for j, (proc, log) in enumerate(ticks, 1):
            text = self.text(log)
            self.check(proc.returncode == 0, f"round {r}: tick {j} exited {proc.returncode}"
                       + ("" if proc.returncode == 0 else f": {text.strip().splitlines()[-3:]}"))
            touched[f"tick {j}"] = reminders_touched(text)
        total = sum(v or 0 for v in touched.values())
        split = ", ".join(f"{name} {v if v is not None else '?'}" for name, v in touched.items())
        self.timings.append(f"round {r}: {seconds:.1f} s")
        self.check(total == expected, f"round {r}: {total:,} of {expected:,} reminders claimed in {seconds:.1f} s, "
                                      f"each by one process ({split})")

    @staticmethod
    def _start_up_run_done(text: str) -> bool:
        """The scheduler logged the end of its start-up reminders and deliveries runs (run_job's
        "job NAME: N rows touched …" or "job NAME: failed …")."""
        ends = [re.search(rf"job {name}: (\d+ rows touched|failed)", text) for name in ("reminders", "deliveries")]
        return all(ends)

    # ---- the kill ------------------------------------------------------------------------------------

    def _status(self, sql: str, arg) -> str | None:
        con = sqlite3.connect(f"file:{self.folder.db}?mode=ro", uri=True, timeout=15)
        try:
            row = con.execute(sql, (arg,)).fetchone()
            return row[0] if row else None
        finally:
            con.close()

    def _kill_at_hold(self, at: datetime, channel: str, name: str) -> None:
        sink = self.smtp if channel == "email" else self.hook
        hold = sink.hold()
        started = time.perf_counter()
        proc, log = self.tick(at, name)
        deadline = time.monotonic() + TIMEOUT
        while not hold.caught.wait(0.02):
            if proc.poll() is not None or time.monotonic() > deadline:
                hold.armed = False
                raise BenchError(f"{name} never sent a {channel} delivery:\n{self.text(log)[-2000:]}")
        if channel == "email":
            held_id = hold.what["Message-ID"]
            sql = "SELECT status FROM delivery WHERE channel = 'email' AND message_id = ?"
        else:
            held_id = hold.what.headers["x-didapp-delivery"]
            sql = "SELECT status FROM delivery WHERE channel = 'webhook' AND notification_id = ?"
        before = self._status(sql, held_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = self._status(sql, held_id)
        hold.released.set()
        self.held[channel] = held_id
        self.timings.append(f"{name} (killed): {time.perf_counter() - started:.1f} s")
        self.check(proc.returncode == -signal.SIGKILL and before == after == "sending",
                   f"{name} SIGKILLed after the {channel} receiver got {held_id} and before it was marked sent "
                   f"(status {before} → {after}, exit {proc.returncode})")

    def _run_tick(self, at: datetime, name: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        proc, log = self.tick(at, name)
        code = proc.wait(TIMEOUT)
        seconds = time.perf_counter() - started
        self.timings.append(f"{name}: {seconds:.1f} s")
        return code, self.text(log), seconds

    def kill_and_rerun(self) -> None:
        tomorrow = self.today + timedelta(days=1)
        at = self._local(tomorrow, 12)
        _step(f"kill: flask tick --at {periods.iso_key(at)} (a day on), SIGKILLed at the first digest; "
              f"another a minute later, SIGKILLed at the first webhook")
        self._kill_at_hold(at, "email", "kill-tick-email")
        self._kill_at_hold(at + timedelta(minutes=1), "webhook", "kill-tick-webhook")
        code, text, seconds = self._run_tick(at + STUCK_WAIT + timedelta(minutes=1), "rerun-tick")
        self.check(code == 0, f"the jobs run again {STUCK_WAIT.seconds // 60 + 1} min later: exit {code} in "
                              f"{seconds:.1f} s ({' '.join(text.split()[-14:])})")
        code, text, _ = self._run_tick(at + STUCK_WAIT + timedelta(minutes=2), "third-tick")
        quiet = "reminders: 0 rows" in text and "deliveries: 0 rows" in text
        self.check(code == 0 and quiet, f"one more run finds nothing to claim or send "
                                        f"({', '.join(line for line in text.splitlines() if line.startswith(('reminders', 'deliveries')))})")
        self.run_days = [self.today, tomorrow]

    # ---- the verdict -------------------------------------------------------------------------------

    def verify(self) -> None:
        with self.app.app_context():
            s = db.session
            self._verify_claims(s)
            notes = {n.id: n for n in s.scalars(sa.select(Notification))}
            self._verify_in_app(s, notes)
            self._verify_email(s, notes)
            self._verify_webhook(notes)
            self._dispose()

    def _verify_claims(self, s) -> None:
        rows = s.execute(sa.select(ReminderClaim.subject_id, ReminderClaim.due_on, ReminderClaim.offset_days,
                                   ReminderClaim.state, ReminderClaim.kind)).all()
        got = {(sid, due, off): state for sid, due, off, state, kind in rows if kind == KIND}
        other = [r for r in rows if r.kind != KIND]
        expected = {(sid, due, off): state for sid, due in self.due.items()
                    for off, (state, _) in expected_claims(due, self.run_days).items()}
        missing = expected.keys() - got.keys()
        unexpected = got.keys() - expected.keys()
        wrong = sum(1 for key in expected.keys() & got.keys() if got[key] != expected[key])
        claimed = sum(1 for v in expected.values() if v == "claimed")
        self.check(not missing and not unexpected and not wrong and not other and len(rows) == len(got),
                   f"every reminder claimed once: {len(rows):,} reminder_claim rows for {len(self.due):,} subjects, "
                   f"{claimed:,} claimed + {len(expected) - claimed:,} skipped expected; {len(missing)} missing, "
                   f"{len(unexpected)} unexpected, {wrong} in the wrong state, {len(other)} of another kind")

    def _verify_in_app(self, s, notes: dict) -> None:
        groups = Counter((n.kind, n.due_on, n.offset_days) for n in notes.values())
        repeated = {k: v for k, v in groups.items() if v > 1}
        attached = Counter(s.scalars(sa.select(ReminderClaim.notification_id).where(ReminderClaim.state == "claimed")))
        orphans = attached.pop(None, 0)
        skipped_linked = s.scalar(sa.select(sa.func.count()).where(ReminderClaim.state == "skipped",
                                                                   ReminderClaim.notification_id.is_not(None)))
        mismatched = sum(1 for nid, n in notes.items() if attached.get(nid, 0) != n.count)
        wrong_group = s.scalar(sa.select(sa.func.count()).select_from(ReminderClaim).join(
            Notification, Notification.id == ReminderClaim.notification_id).where(sa.or_(
                Notification.due_on != ReminderClaim.due_on, Notification.offset_days != ReminderClaim.offset_days,
                Notification.kind != ReminderClaim.kind)))
        self.check(not repeated and not orphans and not skipped_linked and not mismatched and not wrong_group,
                   f"shown once in-app: {len(notes)} notifications, one per (kind, due_on, offset) "
                   f"({len(repeated)} repeated); {sum(attached.values()):,} claims attached, {orphans} claimed "
                   f"without one, {skipped_linked} skipped with one, {mismatched} counts off, {wrong_group} in "
                   f"another group")

    def _verify_email(self, s, notes: dict) -> None:
        by_token = {n.list_token: n.id for n in notes.values() if n.list_token}
        rows = s.execute(sa.select(Delivery.id, Delivery.message_id, Delivery.status, Delivery.user_id)
                         .where(Delivery.channel == "email")).all()
        users = dict(s.execute(sa.select(User.id, User.email).where(User.digest_opt_in.is_(True))).all())
        arrivals = defaultdict(list)
        for message in self.smtp.messages:
            arrivals[message["Message-ID"]].append(message)
        unsent = [r.id for r in rows if r.status != "sent"]
        missing = [r.message_id for r in rows if r.message_id not in arrivals]
        unknown = set(arrivals) - {r.message_id for r in rows}
        dupes = {mid: msgs for mid, msgs in arrivals.items() if len(msgs) > 1}
        same = all(len({m.get_body(("plain",)).get_content() for m in msgs}) == 1 for msgs in dupes.values())
        self.check(not unsent and not missing and not unknown,
                   f"each email delivered at least once: {len(rows)} digests to {len(users)} users, "
                   f"{len(self.smtp.messages)} messages received; {len(unsent)} not marked sent, "
                   f"{len(missing)} never arrived, {len(unknown)} unknown Message-IDs")
        self.check(set(dupes) <= {self.held.get("email")} and same,
                   f"an email arrived twice only where the kill interrupted it, with the same Message-ID and body "
                   f"({sorted(dupes)}; held {self.held.get('email')})")
        per_user = defaultdict(Counter)
        for mid, msgs in arrivals.items():
            for line in msgs[0].get_body(("plain",)).get_content().splitlines():
                token = parse_qs(urlsplit(line.strip()).query).get("list", [None])[0]
                if token in by_token:
                    per_user[msgs[0]["To"]][by_token[token]] += 1
        complete = sum(1 for email in users.values() if per_user[email] == Counter(dict.fromkeys(notes, 1)))
        in_db = s.scalar(sa.select(sa.func.count()).select_from(DigestItem))
        self.check(complete == len(users) and in_db == len(users) * len(notes),
                   f"every user's digests list every notification exactly once: {complete} of {len(users)} users "
                   f"({len(notes)} notifications each; {in_db:,} digest items)")

    def _verify_webhook(self, notes: dict) -> None:
        arrivals = defaultdict(list)
        bad_signature = 0
        for request in self.hook.requests:
            bad_signature += not signature_ok(SECRET, request)
            arrivals[request.headers.get("x-didapp-delivery")].append(request)
        expected = {str(nid) for nid in notes}
        missing = expected - set(arrivals)
        unknown = set(arrivals) - expected
        wrong = 0
        for key, requests in arrivals.items():
            note = notes.get(int(key)) if key and key.isdigit() else None
            body = json.loads(requests[0].body)
            wrong += note is None or (body["kind"], body["due_on"], body["offset_days"], body["count"]) != (
                note.kind, note.due_on.isoformat(), note.offset_days, note.count)
        dupes = {k: v for k, v in arrivals.items() if len(v) > 1}
        same = all(len({r.body for r in v}) == 1 for v in dupes.values())
        self.check(not missing and not unknown and not bad_signature and not wrong,
                   f"each webhook delivered at least once: {len(expected)} notifications, {len(self.hook.requests)} "
                   f"POSTs; {len(missing)} never arrived, {len(unknown)} unknown ids, {bad_signature} bad "
                   f"signatures, {wrong} bodies not matching their notification")
        self.check(set(dupes) <= {self.held.get("webhook")} and same,
                   f"a webhook arrived twice only where the kill interrupted it, with the same X-DidApp-Delivery "
                   f"and body ({sorted(dupes)}; held {self.held.get('webhook')})")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.reliability_reminders", description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=10_000, help="due reminder subjects added per round (default 10000)")
    p.add_argument("--rounds", type=int, default=3, help="race rounds (default 3)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder, its database and the logs")
    args = p.parse_args(argv)
    if not 1 <= args.subjects <= 1_000_000 or not 1 <= args.rounds <= 9:
        p.error("--subjects must be 1..1000000 and --rounds 1..9")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    race = ReminderRace(args.subjects, args.rounds, args.keep)
    started = time.perf_counter()
    try:
        race.prepare()
        for r in range(1, args.rounds + 1):
            race.race_round(r)
        race.kill_and_rerun()
        _step("checking claims, notifications, digests and webhooks …")
        race.verify()
    except (BenchError, subprocess.TimeoutExpired, AssertionError) as exc:
        print(f"\nbench.reliability_reminders could not run: {exc}", file=sys.stderr)
        race.close()
        race.folder.keep = True  # the logs are the diagnosis
        race.folder.cleanup()
        return 2
    race.close()
    failed = [text for ok, text in race.results if not ok]
    race.folder.keep = race.folder.keep or bool(failed)
    race.folder.cleanup()
    print("timings: " + "; ".join(race.timings))
    print(f"\nR2 (reminders): {len(race.results) - len(failed)} passed, {len(failed)} failed "
          f"in {time.perf_counter() - started:.0f} s.")
    if failed:
        print("FAIL R2")
        return 1
    print("PASS R2")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
