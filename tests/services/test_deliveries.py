"""The deliveries job (lifecycle.md §11–§12): email digests to a real SMTP server (aiosmtpd) and signed
webhooks to a real HTTP receiver, both on 127.0.0.1, under a fake clock."""
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.audit import Actor
from did_app.auth import service as auth_service
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.models import Delivery, DigestItem, Notification, User
from did_app.notifications import deliveries
from did_app.notifications.service import notify
from did_app.workspace import ensure_workspace
from tests.conftest import T0
from tests.delivery_sinks import free_port, verify_signature

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-s3cret-s3cret"
BASE = "https://numbers.example.com"


@pytest.fixture
def ctx(app):
    app.config["BASE_URL"] = BASE
    with app.app_context():
        with write_transaction() as session:
            ensure_workspace(session).name = "Acme"
        yield app


def _user(email="ada@example.com", role="admin", opt_in=True):
    user, _ = auth_service.create_user(Actor(None, "cli", "cli"), email=email, display_name=email.split("@")[0],
                                       role=role, password="correct horse battery staple")
    with write_transaction() as session:
        session.get(User, user.id).digest_opt_in = opt_in
    return user.id


def _notify(n=2, kind="expiring_no_renewal", message=None, **payload):
    numbers = [f"+1415555{i:04d}" for i in range(n)]
    with write_transaction() as session:
        note = notify(session, kind, numbers, message or f"{n} numbers expire on 5 Dec 2026 and will not renew.",
                      due_on=date(2026, 12, 5), offset_days=7)
        if payload:
            note.payload = {**note.payload, **payload}
        return note.id


def _run():
    db.session.remove()
    count = deliveries.send_due()
    db.session.remove()
    return count


def _deliveries(channel):
    return db.session.scalars(sa.select(Delivery).where(Delivery.channel == channel).order_by(Delivery.id)).all()


def _parts(message):
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return plain, html


# ---- digest ----------------------------------------------------------------------------------------

def test_digest_arrives_once_with_both_parts_absolute_links_and_the_opt_out(ctx, smtp_sink):
    smtp_sink.use(ctx)
    _user()
    first = _notify(3)
    _notify(2, kind="low_balance_forecast", message="Balance runs out on 20 Dec 2026.", link="billing.forecast")
    assert _run() == 2  # queued, then sent
    assert _run() == 0
    assert len(smtp_sink.messages) == 1
    msg = smtp_sink.messages[0]
    assert msg["Subject"] == "Acme: 2 reminders, 28 Nov 2026"
    assert msg["To"] == "ada@example.com"
    plain, html = _parts(msg)
    token = db.session.get(Notification, first).list_token
    assert f"{BASE}/numbers?list={token}" in plain
    assert f'href="{BASE}/numbers?list={token}"' in html
    assert f"{BASE}/billing/forecast" in plain
    assert "3 numbers expire on 5 Dec 2026 and will not renew." in plain and "Balance runs out" in html
    assert plain.strip().splitlines()[-1].endswith(f"{BASE}/account")
    assert f'href="{BASE}/account"' in html
    [delivery] = _deliveries("email")
    assert delivery.status == "sent" and delivery.attempts == 1
    assert msg["Message-ID"] == delivery.message_id == f"<digest-{delivery.id}@numbers.example.com>"


def test_no_digest_before_the_local_digest_hour_and_none_twice_a_day(ctx, smtp_sink, clock):
    smtp_sink.use(ctx)
    with write_transaction() as session:
        ws = ensure_workspace(session)
        ws.time_zone, ws.digest_hour = "America/New_York", 9  # 14:00 UTC in winter
    _user()
    _notify()
    clock.set(T0.replace(hour=13, minute=59))
    assert _run() == 0 and smtp_sink.messages == []
    clock.set(T0.replace(hour=14, minute=0))
    _run()
    assert len(smtp_sink.messages) == 1
    _notify(4)  # new today, after today's digest: waits for tomorrow
    clock.advance(hours=9)  # 18:00 local, same day
    _run()
    assert len(smtp_sink.messages) == 1
    clock.advance(hours=14, minutes=59)  # 08:59 local the next day
    _run()
    assert len(smtp_sink.messages) == 1
    clock.advance(minutes=1)
    _run()
    assert len(smtp_sink.messages) == 2
    assert smtp_sink.messages[1]["Subject"] == "Acme: 1 reminder, 29 Nov 2026"
    assert "4 numbers expire" in _parts(smtp_sink.messages[1])[0]
    assert "2 numbers expire" not in _parts(smtp_sink.messages[1])[0]


def test_no_email_when_nothing_is_new_and_the_backlog_is_a_week(ctx, smtp_sink, clock):
    smtp_sink.use(ctx)
    _user()
    _run()
    assert smtp_sink.messages == []
    clock.advance(days=-8)
    _notify(5)  # too old for a first digest
    clock.set(T0)
    _notify(1)
    _run()
    [msg] = smtp_sink.messages
    assert "Acme: 1 reminder," in msg["Subject"] and "5 numbers" not in _parts(msg)[0]


def test_deactivated_and_opted_out_users_get_none(ctx, smtp_sink):
    smtp_sink.use(ctx)
    _user("ada@example.com")
    gone = _user("bob@example.com")
    _user("cy@example.com", role="operator", opt_in=False)
    with write_transaction() as session:
        session.get(User, gone).active = False
    _notify()
    _run()
    assert [m["To"] for m in smtp_sink.messages] == ["ada@example.com"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestItem)) == 1


def test_a_queued_digest_is_not_sent_once_its_user_is_deactivated(ctx, smtp_sink, clock):
    smtp_sink.use(ctx)
    user_id = _user()
    _notify()
    smtp_sink.reject(1)
    _run()
    with write_transaction() as session:
        session.get(User, user_id).active = False
    clock.advance(minutes=1)
    _run()
    assert smtp_sink.messages == []
    assert _deliveries("email")[0].status == "failed"


def test_without_smtp_nothing_is_sent_or_queued(ctx, smtp_sink):
    _user()
    _notify()
    assert ctx.config["SMTP_HOST"] is None
    assert _run() == 0
    assert smtp_sink.messages == [] and _deliveries("email") == []


def test_a_refused_send_is_retried_on_the_next_run_with_the_same_message_id(ctx, smtp_sink, clock):
    smtp_sink.use(ctx)
    _user()
    _notify()
    smtp_sink.reject(1, "451 4.3.0 Mailbox busy")
    _run()
    [delivery] = _deliveries("email")
    assert smtp_sink.messages == []
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "451" in delivery.last_error and "Mailbox busy" in delivery.last_error
    ctx.config["SMTP_PORT"] = free_port()  # nothing listens there: connection refused
    clock.advance(minutes=1)
    _run()
    delivery = _deliveries("email")[0]
    assert (delivery.status, delivery.attempts) == ("pending", 2) and "Connection" in delivery.last_error
    smtp_sink.use(ctx)
    clock.advance(minutes=1)
    _run()
    [msg] = smtp_sink.messages
    delivery = _deliveries("email")[0]
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, None)
    assert msg["Message-ID"] == delivery.message_id
    assert len(_deliveries("email")) == 1  # the same delivery and items, not a new digest


def test_a_digest_stuck_in_sending_is_sent_again_with_the_same_message_id(ctx, smtp_sink, clock, monkeypatch):
    smtp_sink.use(ctx)
    _user()
    _notify()
    real_finish = deliveries._finish
    monkeypatch.setattr(deliveries, "_finish", lambda *a, **kw: None)  # the process dies after sending
    _run()
    monkeypatch.setattr(deliveries, "_finish", real_finish)
    assert _deliveries("email")[0].status == "sending" and len(smtp_sink.messages) == 1
    clock.advance(minutes=29)
    _run()
    assert len(smtp_sink.messages) == 1  # not stuck yet: maybe still sending
    clock.advance(minutes=2)
    _run()
    first, second = smtp_sink.messages
    assert first["Message-ID"] == second["Message-ID"] == _deliveries("email")[0].message_id
    assert _parts(first) == _parts(second) and first["Subject"] == second["Subject"]
    assert _deliveries("email")[0].status == "sent"
    clock.advance(hours=1)
    _run()
    assert len(smtp_sink.messages) == 2


def test_two_runs_at_once_queue_one_digest(ctx, smtp_sink):
    smtp_sink.use(ctx)
    user_id = _user()
    _notify()
    now = clock.now()
    day_start = deliveries.digest_day_start(ensure_workspace(db.session), now)
    assert deliveries.queue_digest(user_id, now, day_start) == 1
    assert deliveries.queue_digest(user_id, now, day_start) == 0
    assert len(_deliveries("email")) == 1


def test_send_test_email_records_the_outcome(ctx, smtp_sink):
    user_id = _user()
    with pytest.raises(DomainError, match="Email is off: SMTP is not configured."):
        deliveries.send_test_email(user_id)
    smtp_sink.use(ctx)
    sent = deliveries.send_test_email(user_id)
    assert sent.status == "sent" and smtp_sink.messages[0]["Message-ID"] == sent.message_id
    ctx.config["SMTP_PORT"] = free_port()
    failed = deliveries.send_test_email(user_id)
    assert failed.status == "failed" and failed.last_error
    _notify()
    ctx.config["SMTP_PORT"] = smtp_sink.port
    _run()  # a test email is not today's digest
    assert smtp_sink.messages[-1]["Subject"].startswith("Acme: 1 reminder")


# ---- webhook ---------------------------------------------------------------------------------------

def _enable_webhook(url):
    with write_transaction() as session:
        ws = ensure_workspace(session)
        ws.webhook_url, ws.webhook_secret, ws.webhook_enabled = url, SECRET, True


def test_webhook_is_queued_only_when_enabled(ctx, http_receiver):
    _notify()
    assert _deliveries("webhook") == []
    _enable_webhook(http_receiver.url)
    note = _notify()
    [delivery] = _deliveries("webhook")
    assert (delivery.notification_id, delivery.status, delivery.next_attempt_at) == (note, "pending", T0)


def test_webhook_body_headers_and_signature(ctx, http_receiver):
    _enable_webhook(http_receiver.url)
    note = _notify(1200)
    assert _run() == 1
    assert _run() == 0
    [req] = http_receiver.requests
    assert req.method == "POST" and req.headers["Content-Type"] == "application/json"
    assert {"X-DidApp-Event", "X-DidApp-Delivery", "X-DidApp-Timestamp", "X-DidApp-Signature"} <= set(req.headers.keys())
    assert req.headers["X-DidApp-Event"] == "expiring_no_renewal"
    assert req.headers["X-DidApp-Delivery"] == str(note)
    assert req.headers["X-DidApp-Timestamp"] == str(int(T0.timestamp()))
    assert verify_signature(SECRET, req)
    assert not verify_signature("another-secret-value", req)
    body = json.loads(req.body)
    token = body["url"].rsplit("=", 1)[1]
    assert body == {"id": note, "kind": "expiring_no_renewal", "created_at": "2026-11-28T12:00:00Z",
                    "due_on": "2026-12-05", "offset_days": 7, "count": 1200,
                    "numbers": [f"+1415555{i:04d}" for i in range(1000)],
                    "message": "1200 numbers expire on 5 Dec 2026 and will not renew.",
                    "url": f"{BASE}/numbers?list={token}"}
    [delivery] = _deliveries("webhook")
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 1, 200)


def test_webhook_retries_follow_the_back_off_then_fail(ctx, http_receiver, clock):
    _enable_webhook(http_receiver.url)
    _notify()
    http_receiver.respond(*[500] * 6)
    _run()
    for delay in (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                  timedelta(hours=6)):
        before = len(http_receiver.requests)
        clock.advance(seconds=delay.total_seconds() - 1)
        _run()
        assert len(http_receiver.requests) == before, f"sent before {delay}"
        clock.advance(seconds=1)
        _run()
        assert len(http_receiver.requests) == before + 1, f"not sent after {delay}"
    [delivery] = _deliveries("webhook")
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 6, 500)
    assert delivery.last_error.startswith("HTTP 500")
    clock.advance(days=1)
    _run()
    assert len(http_receiver.requests) == 6
    assert len({r.headers["X-DidApp-Delivery"] for r in http_receiver.requests}) == 1


def test_a_redirect_is_a_failure_and_is_not_followed(ctx, http_receiver, clock):
    _enable_webhook(http_receiver.url)
    _notify()
    http_receiver.respond(302)
    _run()
    assert [r.path for r in http_receiver.requests] == ["/hook"]
    [delivery] = _deliveries("webhook")
    assert (delivery.status, delivery.response_code) == ("pending", 302)
    clock.advance(minutes=1)
    _run()
    assert _deliveries("webhook")[0].status == "sent" and len(http_receiver.requests) == 2


def test_an_unreachable_receiver_is_retried(ctx, clock):
    _enable_webhook(f"http://127.0.0.1:{free_port()}/hook")
    _notify()
    _run()
    [delivery] = _deliveries("webhook")
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, None)
    assert "refused" in delivery.last_error.lower()


def test_queued_webhooks_fail_once_the_webhook_is_off(ctx, http_receiver):
    _enable_webhook(http_receiver.url)
    _notify()
    with write_transaction() as session:
        ensure_workspace(session).webhook_enabled = False
    _run()
    assert http_receiver.requests == []
    assert _deliveries("webhook")[0].status == "failed"


def test_send_test_webhook_is_signed_and_recorded(ctx, http_receiver):
    with pytest.raises(DomainError):
        deliveries.send_test_webhook()
    _enable_webhook(http_receiver.url)
    sent = deliveries.send_test_webhook()
    [req] = http_receiver.requests
    assert req.headers["X-DidApp-Event"] == "test" and verify_signature(SECRET, req)
    assert (sent.status, sent.response_code, sent.message_id) == ("sent", 200, req.headers["X-DidApp-Delivery"])
    http_receiver.respond(404)
    failed = deliveries.send_test_webhook()
    assert (failed.status, failed.response_code, failed.last_error) == ("failed", 404, "HTTP 404 Not Found")


# ---- `flask tick --at` -----------------------------------------------------------------------------

def test_flask_tick_at_sends_the_digest_once(ctx, smtp_sink):
    _user()
    _notify()
    db.session.remove()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SMTP_"))}
    env.update(DATABASE_URL=ctx.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY="test-secret", SCHEDULER="off",
               SMTP_HOST=smtp_sink.host, SMTP_PORT=str(smtp_sink.port), BASE_URL=BASE)
    for at in ("2026-11-28T12:05:00Z", "2026-11-28T12:06:00Z"):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "tick", "--at", at], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    [msg] = smtp_sink.messages
    assert msg["Subject"] == "Acme: 1 reminder, 28 Nov 2026"
    assert f"{BASE}/numbers?list=" in _parts(msg)[0]
