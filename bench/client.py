"""A small keep-alive HTTP client on the standard library, with a cookie jar and the CSRF token.

Only 127.0.0.1 is ever contacted. Times cover sending the request to reading the last byte.
"""
import http.client
import json
import re
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bench.server import BenchError

_FORM_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_HX_HEADERS = re.compile(r"<body[^>]*hx-headers='([^']+)'")
_RETRYABLE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError,
              BrokenPipeError, ConnectionAbortedError)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float           # request sent .. last byte read
    first_byte: float        # request sent .. status line read
    size: int

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Client:
    # gunicorn closes idle keep-alive connections after 2 s; reconnect before that to avoid a retry
    IDLE_RECONNECT = 1.5

    def __init__(self, port: int, timeout: float = 60):
        self.port, self.timeout = port, timeout
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def clone(self) -> "Client":
        """Another connection with the same session (for concurrent clients)."""
        other = Client(self.port, self.timeout)
        other.cookies, other.csrf = dict(self.cookies), self.csrf
        return other

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None and time.monotonic() - self._last_used > self.IDLE_RECONNECT:
            self.close()
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self._conn

    def request(self, method: str, path: str, *, form: dict | list | None = None,
                headers: dict | None = None, sink=None) -> Response:
        """One request. With `sink`, the body is passed on in chunks instead of kept."""
        hdrs = {"Accept": "text/html,*/*", "Accept-Encoding": "identity", **(headers or {})}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            conn = self._connection()
            start = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                first = time.perf_counter()
                size = 0
                if sink is None:
                    data = resp.read()
                    size = len(data)
                else:
                    data = b""
                    while chunk := resp.read(1 << 16):
                        size += len(chunk)
                        sink(chunk)
                end = time.perf_counter()
            except _RETRYABLE:
                self.close()
                if attempt == 2:
                    raise
                continue
            break
        self._last_used = time.monotonic()
        if resp.will_close:
            self.close()
        self._store_cookies(resp.headers.get_all("Set-Cookie") or [])
        return Response(resp.status, resp.headers, data, end - start, first - start, size)

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def _store_cookies(self, lines: list[str]) -> None:
        for line in lines:
            jar = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def login(self, email: str, password: str) -> None:
        """The real login form, then the page's hx-headers token for htmx-style writes."""
        page = self.get("/login")
        match = _FORM_TOKEN.search(page.text)
        if page.status != 200 or not match:
            raise BenchError(f"GET /login answered {page.status} without a csrf_token field")
        resp = self.request("POST", "/login", form={"csrf_token": match.group(1), "email": email,
                                                     "password": password})
        if resp.status not in (302, 303):
            raise BenchError(f"login failed: POST /login answered {resp.status}")
        home = self.get("/numbers")
        if home.status != 200:
            raise BenchError(f"after login GET /numbers answered {home.status}")
        self.refresh_csrf(home.text)

    def refresh_csrf(self, html: str) -> None:
        match = _HX_HEADERS.search(html)
        if not match:
            raise BenchError("no <body hx-headers> with the CSRF token on /numbers")
        self.csrf = json.loads(match.group(1))["X-CSRFToken"]
