"""Receivers for the R2 reminder bench, running in the bench process: an SMTP sink (aiosmtpd) and an
HTTP receiver, both on 127.0.0.1. A small copy of tests/delivery_sinks.py (which is a pytest plugin)
plus `hold()`: the next message or POST is recorded as arrived and then left unanswered until
`release()`, so the sender sits exactly between sending and marking the delivery sent, where the
bench kills it."""
import asyncio
import email
import email.policy
import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from bench.server import free_port

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
HOLD_SECONDS = 30  # an unreleased hold lets go by itself (the sender's own timeout is 10 s)


class _Hold:
    """Armed by hold(): the next arrival sets `caught` (with what arrived) and waits for release()."""

    def __init__(self):
        self.armed = False
        self.caught = threading.Event()
        self.released = threading.Event()
        self.what = None
        self.lock = threading.Lock()

    def arm(self) -> None:
        self.caught.clear()
        self.released.clear()
        self.what = None
        self.armed = True

    def take(self, what) -> bool:
        """True when this arrival is the held one (the caller then waits for the release)."""
        with self.lock:
            if not self.armed:
                return False
            self.armed, self.what = False, what
        self.caught.set()
        return True


class SmtpSink:
    """`.messages`: every message received, parsed (EmailMessage)."""

    def __init__(self):
        self.host, self.port = "127.0.0.1", free_port()
        self.messages: list = []
        self.hold_ = _Hold()
        self.controller = Controller(self, hostname=self.host, port=self.port)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.messages.append(message)
        if self.hold_.take(message):
            for _ in range(HOLD_SECONDS * 20):  # the event loop stays free; the sender waits for "250"
                if self.hold_.released.is_set():
                    break
                await asyncio.sleep(0.05)
        return "250 OK"

    def hold(self) -> _Hold:
        self.hold_.arm()
        return self.hold_

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.hold_.released.set()
        self.controller.stop()


@dataclass
class Received:
    headers: dict  # lower-case names
    body: bytes


class HttpReceiver:
    """`.requests`: every POST received (headers, body); answers 200, or later when held."""

    def __init__(self):
        self.requests: list[Received] = []
        self.hold_ = _Hold()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got = Received({k.lower(): v for k, v in self.headers.items()}, body)
                receiver.requests.append(got)
                if receiver.hold_.take(got):
                    receiver.hold_.released.wait(HOLD_SECONDS)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender was killed while held

            def log_message(self, *args):
                pass
        return Handler

    def hold(self) -> _Hold:
        self.hold_.arm()
        return self.hold_

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.hold_.released.set()
        self.server.shutdown()
        self.server.server_close()


def signature_ok(secret: str, request: Received) -> bool:
    stamp = request.headers.get("x-didapp-timestamp", "")
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers.get("x-didapp-signature", ""), f"sha256={expected}")
