"""Sixty days of scheduler ticks over numbers in every reminder situation (issue 12, "Done means"):
each expected reminder arrives exactly once on every channel, nothing unexpected arrives, and
running every tick twice changes none of the counts.

The channels are real: SMTP_HOST/SMTP_PORT point at an aiosmtpd sink, one user is opted in to the
digest, and the workspace webhook is on and points at an HTTP receiver (tests/delivery_sinks.py).
A channel is an observer, a function `(app) -> Counter` of what ARRIVED as (kind, due_on,
offset_days): `in_app_reminders` reads the notifications, `EmailObserver` parses the digests the
sink received, `WebhookObserver` reads the receiver's JSON bodies (signature checked).
`assert_each_once` checks each of them against EXPECTED; event notifications (renewal_failed,
number_released, …) are counted apart, per channel, against EXPECTED_EVENTS.
"""
import json
from collections import Counter
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from typing import Callable

import pytest
import sqlalchemy as sa

from did_app import audit, scheduler
from did_app.auth import service as auth_service
from did_app.db import db
from did_app.lifecycle import service
from did_app.models import Notification, Number, Proof, ProofType, User
from did_app.models.registration import Identity, VerificationRequestProof
from did_app.notifications import links
from did_app.reminders.kinds import KINDS as REMINDER_KINDS
from did_app.workspace import ensure_workspace
from tests import factories
from tests.conftest import T0
from tests.delivery_sinks import verify_signature

ACTOR = audit.Actor(None, "cli", "cli")
# Every 12 hours (00:00 and 12:00 UTC) covers every local day of the UTC workspace, and the 12:00
# tick is past the digest hour (8), so each day's reminders reach that day's digest.
TICK = timedelta(hours=12)
DIGEST_HOUR = 8
DAYS = 60
SECRET = "walk-secret-walk-secret"
DIGEST_TO = "walker@example.com"
Observer = Callable[[object], Counter]


def d(month: int, day: int) -> date:
    return date(2026 if month == 12 else 2027, month, day)


def _each(kind: str, due_on: date, offsets=(30, 7, 1)) -> list[tuple]:
    return [(kind, due_on, o) for o in offsets]


# What the walk below must produce, worked out by hand from the situations (T0 = 28 Nov 2026 12:00 UTC).
EXPECTED = Counter(
    # R: 10,000 due 3 Dec, balance 5,000: at risk from the start, 5 days before (the 30-day offset
    # is skipped), expires short on 3 Dec, then ages out 34 days later (6 Jan)
    _each("renewal_balance_short", d(12, 3), (7, 1)) + _each("low_balance_forecast", d(12, 3), (7, 1))
    + _each("aging_removal", d(1, 6))
    # N1: cycles 0, expires 7 Jan, then ages (removal 10 Feb: only the 30-day reminder within the walk)
    + _each("expiring_no_renewal", d(1, 7)) + _each("aging_removal", d(2, 10), (30,))
    # S: cycles 0 until 5 Dec, when it gets 5 cycles: only the first reminder for 20 Dec
    + _each("expiring_no_renewal", d(12, 20), (30,))
    # G1–G3: three numbers expiring on 25 Dec, one notification per offset; they age out on 28 Jan
    + _each("expiring_no_renewal", d(12, 25)) + _each("aging_removal", d(1, 28))
    # M: expires 2 Jan, renewed by hand on 8 Dec to 2 Feb: nothing more for 2 Jan
    + _each("expiring_no_renewal", d(1, 2), (30,)) + _each("expiring_no_renewal", d(2, 2), (30, 7))
    # C: cancelled 18 Nov, restorable until 23 Dec
    + _each("restore_window_end", d(12, 23))
    # D: deadline 8 Dec; D2: deadline 3 Dec (the 30-day offset skipped)
    + _each("registration_deadline", d(12, 8)) + _each("registration_deadline", d(12, 3), (7, 1))
    # P: a proof backing V's approved registration expires 12 Jan
    + _each("proof_expiring", d(1, 12))
)
# R's failed renewal; released: D2 (3 Dec), D (8 Dec), C (23 Dec), R (6 Jan)
EXPECTED_EVENTS = Counter({"renewal_failed": 1, "number_released": 4})


# ---- observers: each returns a Counter of (kind, due_on, offset_days) of everything that arrived ----

def in_app(app) -> Counter:
    with app.app_context():
        rows = db.session.execute(sa.select(Notification.kind, Notification.due_on, Notification.offset_days)).all()
    return Counter(tuple(r) for r in rows)


def reminders_of(arrived: Counter) -> Counter:
    return Counter({key: n for key, n in arrived.items() if key[0] in REMINDER_KINDS})


def events_of(arrived: Counter) -> Counter:
    events = Counter()
    for key, n in arrived.items():
        if key[0] not in REMINDER_KINDS:
            events[key[0]] += n
    return events


def in_app_reminders(app) -> Counter:
    return reminders_of(in_app(app))


def in_app_events(app) -> Counter:
    return events_of(in_app(app))


def digest_items(message) -> list[tuple[str, str]]:
    """The (message, url) lines of a digest's plain-text part: "- MESSAGE" then "  URL"."""
    lines = message.get_body(("plain",)).get_content().splitlines()
    return [(line[2:], lines[i + 1].strip()) for i, line in enumerate(lines[:-1])
            if line.startswith("- ") and lines[i + 1].startswith("  http")]


class EmailObserver:
    """What the digests in `sink` list. A digest line is a notification's message and link; the link
    is the notification's own saved list, except the low-balance forecast's, shared by all of them, so
    a line is matched to the notifications with that message and link created by the digest's Date,
    the earliest not yet matched first (a notification arriving twice then counts twice). A line that
    matches no notification counts as ("unmatched", message, url)."""

    def __init__(self, sink, to: str = DIGEST_TO):
        self.sink, self.to = sink, to

    def __call__(self, app) -> Counter:
        digests = sorted(self.sink.messages, key=lambda m: parsedate_to_datetime(m["Date"]))
        assert digests, "no digest arrived"
        assert {m["To"] for m in digests} == {self.to}
        ids = [m["Message-ID"] for m in digests]
        assert len(set(ids)) == len(ids), f"a digest arrived twice: {ids}"
        days = [parsedate_to_datetime(m["Date"]).date() for m in digests]
        assert len(set(days)) == len(days), f"more than one digest on a day: {days}"
        by_line = self._notifications_by_line(app)
        taken, arrived = set(), Counter()
        for message in digests:
            sent_at = parsedate_to_datetime(message["Date"])
            items = digest_items(message)
            assert f": {len(items)} reminder" in message["Subject"], (message["Subject"], items)
            for item in items:
                candidates = [n for n in by_line.get(item, []) if n[0] <= sent_at]
                if not candidates:
                    arrived[("unmatched", *item)] += 1
                    continue
                fresh = [n for n in candidates if n[1] not in taken]
                created_at, note_id, key = fresh[0] if fresh else candidates[-1]
                taken.add(note_id)
                arrived[key] += 1
        return arrived

    @staticmethod
    def _notifications_by_line(app) -> dict:
        """(message, url) → [(created_at, id, (kind, due_on, offset))], oldest first."""
        found = {}
        with app.app_context():
            for note in db.session.scalars(sa.select(Notification).order_by(Notification.created_at,
                                                                          Notification.id)):
                found.setdefault((note.message, links.notification_url(note)), []).append(
                    (note.created_at, note.id, (note.kind, note.due_on, note.offset_days)))
        return found


class WebhookObserver:
    """What the receiver got: each POST signed with the secret, its X-DidApp-Delivery the
    notification id of its JSON, its X-DidApp-Event the kind. Each notification's id must arrive
    exactly once (checked here); the Counter is of the JSON's (kind, due_on, offset_days)."""

    def __init__(self, receiver, secret: str = SECRET):
        self.receiver, self.secret = receiver, secret

    def __call__(self, app) -> Counter:
        arrived, delivery_ids = Counter(), Counter()
        for request in self.receiver.requests:
            assert (request.method, request.path) == ("POST", "/hook")
            assert verify_signature(self.secret, request), "a webhook with a bad signature"
            body = json.loads(request.body)
            assert request.headers["X-DidApp-Delivery"] == str(body["id"])
            assert request.headers["X-DidApp-Event"] == body["kind"]
            delivery_ids[request.headers["X-DidApp-Delivery"]] += 1
            due_on = date.fromisoformat(body["due_on"]) if body["due_on"] else None
            arrived[(body["kind"], due_on, body["offset_days"])] += 1
        with app.app_context():
            note_ids = Counter(str(i) for i in db.session.scalars(sa.select(Notification.id)))
        assert delivery_ids == note_ids, (f"delivery ids missing {sorted(note_ids - delivery_ids)}, "
                                          f"unexpected or repeated {sorted(delivery_ids - note_ids)}")
        return arrived


def assert_each_once(observed: Counter, expected: Counter = EXPECTED) -> None:
    missing = expected - observed
    unexpected = observed - expected
    assert not missing and not unexpected, f"missing {sorted(missing)}; unexpected or repeated {sorted(unexpected)}"


# ---- the situations ---------------------------------------------------------------------------

def _number(**kw):
    kw.setdefault("monthly_price_minor", 0)  # only R costs money, so only R runs the balance out
    kw.setdefault("expires_at", T0 + timedelta(days=100))
    return factories.make_number(**kw)


def set_up(app) -> dict:
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 5_000
        db.session.commit()
        at = {}
        at["R"] = _number(monthly_price_minor=10_000, expires_at=T0 + timedelta(days=5), billing_anchor_day=3).id
        at["N1"] = _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=40)).id
        at["S"] = _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=22), billing_anchor_day=20).id
        for h in range(3):
            _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=27, hours=-h))
        at["M"] = _number(billing_cycles_count=0, expires_at=T0 + timedelta(days=35), billing_anchor_day=2).id
        _number(cancelled_at=T0 - timedelta(days=10))
        for days in (10, 5):
            _number(needs_registration=True, awaiting_registration=True,
                    registration_deadline_at=T0 + timedelta(days=days))
        request = factories.make_verification_request(status="approved")
        identity = db.session.get(Identity, request.identity_id)
        kind = db.session.scalar(sa.select(ProofType).where(ProofType.entity == "personal").limit(1))
        proof = Proof(identity_id=identity.id, proof_type_id=kind.id, expires_on=d(1, 12))
        db.session.add(proof)
        db.session.flush()
        db.session.add(VerificationRequestProof(request_id=request.id, proof_id=proof.id))
        db.session.commit()
        _number(needs_registration=True, verification_request_id=request.id, identity_id=identity.id,
                expires_at=T0 + timedelta(days=200))
        return at


def _hooks(ids: dict) -> list:
    """(when, action): what people do during the walk, before the tick at or after `when`."""
    def give_s_cycles(app):
        with app.app_context():
            db.session.get(Number, ids["S"]).billing_cycles_count = 5
            db.session.commit()

    def renew_m(app):
        with app.app_context():
            service.renew(ACTOR, ids["M"], 1)
    return [(T0 + timedelta(days=7), give_s_cycles), (T0 + timedelta(days=10), renew_m)]


def connect_channels(app, smtp_sink, http_receiver) -> None:
    """SMTP at the sink, one user opted in to the digest, the webhook on and at the receiver."""
    smtp_sink.use(app)
    with app.app_context():
        user, _ = auth_service.create_user(ACTOR, email=DIGEST_TO, display_name="Walker", role="operator",
                                           password="correct horse battery staple")
        db.session.get(User, user.id).digest_opt_in = True
        ws = ensure_workspace(db.session)
        ws.digest_hour = DIGEST_HOUR
        ws.webhook_url, ws.webhook_secret, ws.webhook_enabled = http_receiver.url, SECRET, True
        db.session.commit()


def walk(app, clock, *, runs_per_tick: int = 1, observers: dict[str, Observer] | None = None) -> dict:
    """Tick every TICK for 60 days (each tick `runs_per_tick` times) over the situations; returns
    what each observer saw."""
    hooks = _hooks(set_up(app))
    for _ in range(DAYS * 24 // int(TICK.total_seconds() // 3600) + 1):
        while hooks and hooks[0][0] <= clock.now():
            hooks.pop(0)[1](app)
        for _ in range(runs_per_tick):
            results = scheduler.run_all_once(app)
            assert not [r for r in results.values() if isinstance(r, Exception)], results
        clock.advance(seconds=TICK.total_seconds())
    observers = observers or {"in_app": in_app}
    return {name: observe(app) for name, observe in observers.items()}


@pytest.mark.parametrize("runs_per_tick", [1, 2])
def test_sixty_days_of_ticks_deliver_each_reminder_exactly_once_on_every_channel(app, clock, smtp_sink,
                                                                                  http_receiver, runs_per_tick):
    connect_channels(app, smtp_sink, http_receiver)
    seen = walk(app, clock, runs_per_tick=runs_per_tick,
                observers={"in_app": in_app, "email": EmailObserver(smtp_sink),
                           "webhook": WebhookObserver(http_receiver)})
    for channel, arrived in seen.items():
        assert_each_once(reminders_of(arrived))
        assert events_of(arrived) == EXPECTED_EVENTS, channel
    with app.app_context():  # G1–G3: one notification per offset, each for the three numbers
        counts = db.session.scalars(sa.select(Notification.count).where(
            Notification.kind == "expiring_no_renewal", Notification.due_on == d(12, 25))).all()
    assert counts == [3, 3, 3]
