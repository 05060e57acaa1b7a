"""Signed webhook POSTs (lifecycle.md §12): JSON body, X-DidApp-* headers, HMAC-SHA256, 10 s timeout,
redirects never followed (a 3xx is a failure), 2xx is success."""
import hashlib
import hmac
import http.client
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

WEBHOOK_TIMEOUT = 10  # seconds


@dataclass
class Outcome:
    ok: bool
    code: int | None
    error: str | None


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def post(url: str, secret: str, *, event: str, delivery_id: str, timestamp: int, payload: dict) -> Outcome:
    """POST `payload` to `url`, signed with `secret`; never raises for a network or HTTP failure.

    http.client follows no redirect by itself, so a 3xx comes back as the answer, and a failure."""
    body = body_bytes(payload)
    headers = {"Content-Type": "application/json", "User-Agent": "did-app-webhook", "X-DidApp-Event": event,
               "X-DidApp-Delivery": delivery_id, "X-DidApp-Timestamp": str(timestamp),
               "X-DidApp-Signature": signature(secret, timestamp, body)}
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection = connection_class(parts.hostname, parts.port, timeout=WEBHOOK_TIMEOUT)
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            code, reason = response.status, response.reason
        finally:
            connection.close()
    except (http.client.HTTPException, OSError, ValueError) as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:1000])
    if 200 <= code < 300:
        return Outcome(True, code, None)
    return Outcome(False, code, f"HTTP {code} {reason}".strip()[:1000])
