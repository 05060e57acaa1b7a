"""The R2 reminder bench's own logic (bench/reliability_reminders.py): the claims it expects, the
zone it picks, and the receivers' hold that makes the kill window real."""
import http.client
import smtplib
import threading
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from bench.reliability_reminders import expected_claims, noon_zone
from bench.sinks import HttpReceiver, SmtpSink

DUE = date(2027, 1, 31)


def _days_before(*ks):
    return [DUE - timedelta(days=k) for k in ks]


@pytest.mark.parametrize("run_days, expected", [
    (_days_before(31), {}),  # not yet due
    (_days_before(30), {30: "claimed"}),
    (_days_before(8), {30: "claimed"}),
    (_days_before(5), {7: "claimed", 30: "skipped"}),  # catch-up: the 30-day reminder is skipped
    (_days_before(1), {1: "claimed", 7: "skipped", 30: "skipped"}),
    (_days_before(0), {1: "claimed", 7: "skipped", 30: "skipped"}),
    (_days_before(8, 7), {30: "claimed", 7: "claimed"}),  # a row already made is kept
    (_days_before(5, 4, 1), {7: "claimed", 30: "skipped", 1: "claimed"}),
    (_days_before(-1), {}),  # past
])
def test_expected_claims_follow_the_smallest_due_offset_rule(run_days, expected):
    assert {o: state for o, (state, _) in expected_claims(DUE, run_days).items()} == expected


@pytest.mark.parametrize("hour", range(24))
def test_noon_zone_puts_local_midnight_far_away(hour):
    now = datetime(2026, 12, 7, hour, 30, tzinfo=timezone.utc)
    assert 11 <= now.astimezone(ZoneInfo(noon_zone(now))).hour <= 13


def test_a_held_post_has_arrived_but_gets_no_answer_until_released():
    receiver = HttpReceiver()
    receiver.start()
    try:
        hold = receiver.hold()
        answers = []

        def post():
            conn = http.client.HTTPConnection("127.0.0.1", receiver.server.server_port, timeout=10)
            conn.request("POST", "/hook", body=b"{}", headers={"X-DidApp-Delivery": "7"})
            answers.append(conn.getresponse().status)
        sender = threading.Thread(target=post)
        sender.start()
        assert hold.caught.wait(5) and hold.what.headers["x-didapp-delivery"] == "7"
        sender.join(0.3)
        assert answers == [] and len(receiver.requests) == 1
        hold.released.set()
        sender.join(5)
        assert answers == [200]
    finally:
        receiver.stop()


def test_a_held_message_has_arrived_but_gets_no_250_until_released():
    sink = SmtpSink()
    sink.start()
    try:
        hold = sink.hold()
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Message-ID"] = "a@example.com", "b@example.com", "<m1@example.com>"
        msg.set_content("hi")
        done = []

        def send():
            with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
                smtp.send_message(msg)
            done.append(True)
        sender = threading.Thread(target=send)
        sender.start()
        assert hold.caught.wait(5) and hold.what["Message-ID"] == "<m1@example.com>"
        sender.join(0.3)
        assert done == [] and len(sink.messages) == 1
        hold.released.set()
        sender.join(5)
        assert done == [True]
    finally:
        sink.stop()
