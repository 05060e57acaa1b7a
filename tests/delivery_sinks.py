"""Real receivers for what the app sends out (lifecycle.md §12), as pytest fixtures:

- `smtp_sink`: an aiosmtpd SMTP server on 127.0.0.1 (a free port) keeping every message it accepts
  (`.messages`, parsed as EmailMessage, with `.envelopes`); `.reject(n, code)` answers the next n
  DATA commands with an error; `.use(app)` points the app's SMTP_* settings at it.
- `http_receiver`: an HTTP server (http.server in a thread) on 127.0.0.1 recording each request's
  method, path, headers and body (`.requests`); it answers the codes queued with `.respond(*codes)`
  (then 200); a 3xx carries a Location on the same server, so a followed redirect would show as a
  second request. `verify_signature(secret, request)` checks X-DidApp-Signature.

Registered for every test through tests/conftest.py; the 60-day reminder walk uses them too.
"""
import email
import email.policy
import hashlib
import hmac
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collector:
    def __init__(self):
        self.messages, self.envelopes, self.rejects = [], [], []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.rejects:
                return self.rejects.pop(0)
            self.envelopes.append(envelope)
            self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                          policy=email.policy.default))
        return "250 OK"


class SmtpSink:
    def __init__(self):
        self.collector = _Collector()
        self.host, self.port = "127.0.0.1", free_port()
        self.controller = Controller(self.collector, hostname=self.host, port=self.port)

    @property
    def messages(self) -> list:
        return self.collector.messages

    @property
    def envelopes(self) -> list:
        return self.collector.envelopes

    def reject(self, n: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        self.collector.rejects.extend([reply] * n)

    def use(self, app) -> None:
        app.config.update(SMTP_HOST=self.host, SMTP_PORT=self.port, SMTP_STARTTLS=False, SMTP_USER=None,
                          SMTP_FROM="did-app@example.com")

    def clear(self) -> None:
        self.messages.clear()
        self.envelopes.clear()


@dataclass
class Received:
    method: str
    path: str
    headers: object  # http.client.HTTPMessage: names looked up case-insensitively
    body: bytes
    code: int = 200


@dataclass
class HttpReceiver:
    server: ThreadingHTTPServer = None
    requests: list = field(default_factory=list)
    codes: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def respond(self, *codes: int) -> None:
        """Answer the next requests with `codes`, in order; 200 after them."""
        self.codes.extend(codes)


def verify_signature(secret: str, request: Received) -> bool:
    stamp = request.headers["X-DidApp-Timestamp"]
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["X-DidApp-Signature"], f"sha256={expected}")


def _handler(receiver: HttpReceiver):
    class Handler(BaseHTTPRequestHandler):
        def _record(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            code = receiver.codes.pop(0) if receiver.codes else 200
            receiver.requests.append(Received(self.command, self.path, self.headers, body, code))
            self.send_response(code)
            if 300 <= code < 400:
                self.send_header("Location", "/redirected")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_POST = do_GET = do_PUT = _record

        def log_message(self, *args):  # keep the test output clean
            pass
    return Handler


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


@pytest.fixture
def http_receiver():
    receiver = HttpReceiver()
    receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
