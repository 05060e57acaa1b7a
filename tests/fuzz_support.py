"""The machinery of tests/test_fuzz_routes.py (R4 of quality-bars.md, issue 8 §3).

- `Recorder` notes which keys a request looks up in `request.args`, `request.form` and
  `request.files`, and whether the view function itself ran (past CSRF, login and routing).
- `PageScraper` reads the app's own pages: links, `hx-get`/`hx-post` attributes and forms with
  their current values (hidden `version`, selected options, checked boxes), so a fuzzed request
  starts from what a browser would post right now.
- `Fuzzer` holds one seeded database and a logged-in admin client. It crawls the pages, maps
  every route to concrete URLs of seeded objects, sends generated values field by field, and
  checks each answer: never a 5xx, and a refused request (4xx) leaves the database unchanged
  (a hash of every row of every table, before and after).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import product
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from did_app.db import db

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# no example database (settings below), and Hypothesis's other caches (the constants it collects
# from the code) go to the temporary folder, so no .hypothesis folder appears in the working tree
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "did-app-hypothesis"))
GET, POST = "GET", "POST"
HTML_TYPES = ("text/html",)

# ---------------------------------------------------------------------------------------------
# generated values
# ---------------------------------------------------------------------------------------------

UNICODE_DIGITS = {
    "arabic-indic": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "fullwidth": str.maketrans("0123456789", "０１２３４５６７８９"),
    "superscript": str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"),
    "circled": str.maketrans("0123456789", "⓪①②③④⑤⑥⑦⑧⑨"),
}

NASTY = (
    # empty and blank
    "", " ", "\t", " \n ", "\u00a0", "\u3000",
    # digits that str.isdigit() accepts and int() refuses, or that int() reads as a number
    "²", "①", "٣", "１２", "߁", "¹²³", "٣٣", "۳", "⁹⁹⁹",
    # numbers: signs, floats, huge, 64-bit edges, many digits
    "0", "00", "-0", "-1", "+1", "1.5", "1e3", "1e309", "NaN", "inf", "-inf", "0x10", "1_000",
    str(2**31), str(2**31 - 1), str(2**53 + 1), str(2**63 - 1), str(2**63), str(-2**63 - 1), str(2**64),
    "9" * 20, "-" + "9" * 20, "9" * 4301, "1" * 5000,
    # dates outside any sane window, impossible dates, odd formats
    "9999-12-31", "0001-01-01", "10000-01-01", "0000-00-00", "2026-02-30", "2026-13-01", "1969-12-31",
    "9999-12-31T23:59:59", "2026-11-28T25:00", "31/12/2026", "-2026-01-01",
    # bytes a parser may choke on
    "\x00", "a\x00b", "1\x00", "\x01\x02\x1f\x7f", "\r\n", "\u202e\u200b", "\ufeff", "\U0001f4a9", "\x85",
    # long strings
    "x" * 256, "x" * 100_000, "é" * 5000, "+1" + "4" * 5000,
    # unknown enum values and look-alikes
    "bogus", "ACTIVE", "Active", "active ", "null", "None", "true", "[]", "{}", "__proto__",
    # markup, paths, formulas, injections
    "<script>alert(1)</script>", "'\"; DROP TABLE number; --", "%", "%00", "%s%n", "../../etc/passwd",
    "=HYPERLINK(\"http://x\")", "http://evil.example/", "//evil.example", "javascript:alert(1)",
    # phone-number-like
    "+14155550100", "tel:+14155550100", "+1 512 240 772", "+", "+0", "+999999999999999999",
)

NASTY_NAMES = ("x", "", "version[]", "\x00", "²", "a" * 300, "csrf_token_", "__class__")
RAW_BYTES = (b"\xff\xfe", b"\xc3\x28", b"%", b"\xed\xa0\x80")  # invalid UTF-8, sent percent-encoded

HEADERS = ("HX-Request", "HX-Current-URL", "X-Request-Id", "HX-Boosted", "HX-History-Restore-Request",
           "HX-Target", "HX-Trigger")
HEADER_VALUES = ("true", "false", "", "TRUE", "1", "x" * 300, "=HYPERLINK(\"http://x\")", "a;b,c",
                 "http://evil.example/numbers", "/numbers", "not a url", "http://localhost/numbers?page=²",
                 "http://[::1", "http://localhost:99999/", "é" * 50, "x" * 20_000)


def unicode_digit_variants(text: str) -> list[str]:
    if not any(c.isdigit() for c in text):
        return []
    return [text.translate(table) for table in UNICODE_DIGITS.values()]


INDEX = st.integers(min_value=0, max_value=2**16 - 1)


def pick(data, seq, label):
    """One item of a list that may change between examples (the app's state changes): the draw
    itself has a fixed shape, so Hypothesis sees the same kind of data every time."""
    index = data.draw(INDEX, label=label)
    return seq[index % len(seq)] if seq else None


def baseline_mutations(baseline: str) -> list[str]:
    return [baseline + "x", "-" + baseline, baseline * 3, baseline + "\x00", " " + baseline + " ",
            baseline + "9" * 30, *unicode_digit_variants(baseline)]


VALUE_KINDS = ("nasty", "nasty", "nasty", "integer", "text", "bytes", "option", "option", "mutation")


def draw_value(data, baseline: str | None, options, label):
    """One generated value: the nasty list, numbers, free text, invalid UTF-8, another value the
    page offers for the field, or a mutation of its current value."""
    kind = data.draw(st.sampled_from(VALUE_KINDS), label=f"kind of {label}")
    if kind == "integer":
        return str(data.draw(st.integers(min_value=-2**70, max_value=2**70), label=label))
    if kind == "text":
        return data.draw(st.text(st.characters(exclude_categories=("Cs",)), max_size=12), label=label)
    if kind == "bytes":
        return data.draw(st.sampled_from(RAW_BYTES), label=label)
    if kind in ("option", "mutation"):
        # the same draw whether or not the page offers options or a current value
        index = data.draw(INDEX, label=label)
        seq = sorted(options or ()) if kind == "option" else baseline_mutations(baseline) if baseline else []
        return (seq or NASTY)[index % len(seq or NASTY)]
    return data.draw(st.sampled_from(NASTY), label=label)


def header_value(text) -> str:
    """What a server hands the app for a header: bytes read as latin-1; no CR, LF or NUL."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    text = text.encode("utf-8").decode("latin-1")
    return "".join(c for c in text if c not in "\r\n\x00")


def show(value, limit=60) -> str:
    """A short, readable form of a generated value for a report."""
    if isinstance(value, bytes):
        return f"bytes {value!r}"
    text = repr(value)
    if len(text) > limit:
        head = repr(value[:20])[:-1]
        return f"{head}…' ({len(value):,} chars)"
    return text


def encode_pairs(pairs) -> bytes:
    out = []
    for name, value in pairs:
        key = quote(name.encode("utf-8") if isinstance(name, str) else name, safe="")
        val = quote(value.encode("utf-8") if isinstance(value, str) else value, safe="")
        out.append(f"{key}={val}")
    return "&".join(out).encode("ascii")


# ---------------------------------------------------------------------------------------------
# what a request reads
# ---------------------------------------------------------------------------------------------

class _RecordingDict(ImmutableMultiDict):
    """request.args / form / files that note every key looked up."""

    def _note(self, key):
        sink = Recorder.active
        if sink is not None and isinstance(key, str):
            sink.keys.add((self._loc, key))

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):
        self._note(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        self._note(key)
        return super().getlist(key, type)


def _recording(data, loc):
    wrapped = _RecordingDict(data)
    wrapped._loc = loc
    return wrapped


class Recorder:
    """Installed on one app: per request, the keys read and whether the view function ran."""

    active: Recorder | None = None

    def __init__(self, app):
        self.keys: set = set()
        self.view_ran = False
        self.exception = None
        app.before_request_funcs.setdefault(None, []).insert(0, self._wrap_request)
        from flask import got_request_exception
        got_request_exception.connect(self._exception, app)
        for endpoint, view in list(app.view_functions.items()):
            app.view_functions[endpoint] = self._watch(view)

    def _watch(self, view):
        def watched(*args, **kwargs):
            self.view_ran = True
            try:
                return view(*args, **kwargs)
            except Exception as exc:  # kept for the report; the app's handlers still answer it
                if not isinstance(exc, HTTPException):
                    self.exception = exc
                raise
        watched.__name__ = getattr(view, "__name__", "view")
        return watched

    @staticmethod
    def _wrap_request():
        from flask import request as proxy
        request = proxy._get_current_object()
        request.__dict__["args"] = _recording(request.args, "args")
        if request.method not in ("GET", "HEAD"):
            form, files = request.form, request.files
            request.__dict__["form"] = _recording(form, "form")
            request.__dict__["files"] = _recording(files, "file")
            request.__dict__.pop("values", None)

    def _exception(self, sender, exception, **extra):
        """An exception the error handlers turned into a 500 page: keep it for the report."""
        if Recorder.active is self:
            self.exception = exception

    def start(self):
        self.keys, self.view_ran, self.exception = set(), False, None
        Recorder.active = self

    def stop(self):
        Recorder.active = None


# ---------------------------------------------------------------------------------------------
# the app's own pages
# ---------------------------------------------------------------------------------------------

@dataclass
class Submission:
    """One way a page submits: the method, URL and the values a browser would post now."""
    method: str
    path: str
    query: list
    hx: bool
    fields: list            # [(name, value)] as the browser posts them
    names: set              # every control name in the form (disabled, unchecked, buttons too)
    files: set              # names of file inputs
    options: dict           # name -> values the page offers (select options, radio/checkbox values)
    host: tuple | None = None  # (page URL, fetched as htmx) to read fresh values from


@dataclass
class _Control:
    name: str
    value: str
    kind: str
    disabled: bool = False
    checked: bool = True
    attrs: dict = field(default_factory=dict)


class _Form:
    def __init__(self, attrs):
        self.attrs = attrs
        self.controls: list[_Control] = []
        self.selects: dict = {}


class PageScraper(HTMLParser):
    """Links, htmx requests and forms of one rendered page, with absolute URLs."""

    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[tuple[str, bool]] = []       # (url, htmx)
        self.submissions: list[Submission] = []
        self.forms: list[_Form] = []
        self.forms_by_id: dict[str, _Form] = {}
        self._form: _Form | None = None
        self._select: _Control | None = None
        self._select_options: list = []
        self._option: dict | None = None
        self._textarea: _Control | None = None
        self._loose: list[tuple[str | None, _Control]] = []   # controls with form="id"
        self._standalone: list[dict] = []

    # -- parsing --

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = _Form(a)
            self.forms.append(self._form)
            if a.get("id"):
                self.forms_by_id[a["id"]] = self._form
            return
        if tag == "a" and a.get("href"):
            self.links.append((a["href"], False))
        for verb in ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"):
            if verb in a and tag != "form" and not (tag in ("button", "input") and self._in_form(a)):
                self._standalone.append({"verb": verb, "attrs": a, "tag": tag})
        if tag == "input":
            kind = a.get("type", "text").lower()
            if "name" not in a:
                return
            control = _Control(a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else ""), kind,
                               disabled="disabled" in a, checked="checked" in a, attrs=a)
            self._add(control, a)
        elif tag == "button":
            if "name" in a or any(k in a for k in ("formaction", "hx-post", "hx-get")):
                control = _Control(a.get("name", ""), a.get("value", ""), "button:" + a.get("type", "submit"),
                                   disabled="disabled" in a, attrs=a)
                self._add(control, a)
        elif tag == "select" and "name" in a:
            self._select = _Control(a["name"], "", "select", disabled="disabled" in a, attrs=a)
            self._select_options = []
            self._add(self._select, a)
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self._select_options.append(self._option)
        elif tag == "textarea" and "name" in a:
            self._textarea = _Control(a["name"], "", "textarea", disabled="disabled" in a, attrs=a)
            self._add(self._textarea, a)

    def handle_data(self, data):
        if self._option is not None:
            self._option["text"] += data
        elif self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            opts = [(o["value"] if o["value"] is not None else o["text"].strip(), o["selected"])
                    for o in self._select_options]
            self._select.attrs = {**self._select.attrs, "_options": [v for v, _ in opts]}
            chosen = [v for v, sel in opts if sel] or [v for v, _ in opts[:1]]
            self._select.value = chosen[0] if chosen else ""
            self._select.checked = bool(chosen)
            self._select = None
        elif tag == "textarea":
            if self._textarea is not None and self._textarea.value.startswith("\n"):
                self._textarea.value = self._textarea.value[1:]
            self._textarea = None

    def _in_form(self, a) -> bool:
        return self._form is not None or bool(a.get("form"))

    def _add(self, control: _Control, a):
        if a.get("form"):
            self._loose.append((a["form"], control))
        elif self._form is not None:
            self._form.controls.append(control)
        else:
            self._loose.append((None, control))

    # -- results --

    def close(self):
        super().close()
        for form_id, control in self._loose:
            if form_id and form_id in self.forms_by_id:
                self.forms_by_id[form_id].controls.append(control)
        for form in self.forms:
            self._form_submissions(form)
        for item in self._standalone:
            self._standalone_submission(item)

    def _url(self, raw: str | None):
        url = urljoin(self.base, raw if raw else self.base)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or parts.scheme not in ("", "http", "https"):
            return None
        return parts.path, parse_qsl(parts.query, keep_blank_values=True)

    def _form_submissions(self, form: _Form):
        a = form.attrs
        names, files, options, fields, buttons = set(), set(), defaultdict(set), [], []
        for c in form.controls:
            if c.name:
                names.add(c.name)
            if c.kind == "file":
                files.add(c.name)
                continue
            if c.kind in ("checkbox", "radio"):
                options[c.name].add(c.value)
                if c.disabled or not c.checked:
                    continue
            if c.kind == "select":
                options[c.name].update(v for v in c.attrs.get("_options", []) if v is not None)
            if c.kind.startswith("button:") or c.kind in ("submit", "image", "reset", "button"):
                buttons.append(c)
                if c.name:
                    options[c.name].add(c.value)
                continue
            if c.disabled or (c.kind == "select" and not c.checked) or not c.name:
                continue
            fields.append((c.name, c.value))
        if "hx-post" in a:
            verb, hx, raw = POST, True, a["hx-post"]
        elif "hx-get" in a:
            verb, hx, raw = GET, True, a["hx-get"]
        else:
            verb, hx, raw = a.get("method", "get").upper(), False, a.get("action")
        targets = [(verb, raw, hx, None)]
        for b in buttons:
            ba = b.attrs
            if "hx-post" in ba:
                targets.append((POST, ba["hx-post"], True, b))
            elif "hx-get" in ba:
                targets.append((GET, ba["hx-get"], True, b))
            elif "formaction" in ba:
                targets.append((ba.get("formmethod", verb).upper(), ba["formaction"], hx, b))
            elif b.name:
                targets.append((verb, raw, hx, b))
        for method, url, is_hx, button in targets:
            resolved = self._url(url)
            if resolved is None or method not in (GET, POST):
                continue
            path, query = resolved
            posted = list(fields) + ([(button.name, button.value)] if button is not None and button.name else [])
            if method == GET:
                self.links.append((path + ("?" + urlencode(query + posted) if query or posted else ""), is_hx))
            self.submissions.append(Submission(method, path, query, is_hx, posted, set(names), set(files),
                                               {k: set(v) for k, v in options.items()}))

    def _standalone_submission(self, item):
        a = item["attrs"]
        method = item["verb"][3:].upper()
        resolved = self._url(a[item["verb"]])
        if resolved is None:
            return
        path, query = resolved
        fields = []
        if a.get("name"):
            fields.append((a["name"], a.get("value", "")))
        if a.get("hx-vals"):
            try:
                fields += [(str(k), str(v)) for k, v in json.loads(a["hx-vals"]).items()]
            except (ValueError, AttributeError):
                pass
        if method == GET:
            self.links.append((path + ("?" + urlencode(query + fields) if query or fields else ""), True))
        self.submissions.append(Submission(method, path, query, True, fields, {n for n, _ in fields}, set(), {}))


def scrape(html: str, base: str) -> PageScraper:
    page = PageScraper(base)
    page.feed(html)
    page.close()
    return page


# ---------------------------------------------------------------------------------------------
# the database before and after
# ---------------------------------------------------------------------------------------------

def _pg_fingerprint_sql() -> str:
    """One statement: per table, its row count and an md5 of every row as text, in key order."""
    parts = []
    for table in db.metadata.sorted_tables:
        order = ", ".join(f't."{c.name}"' for c in table.primary_key.columns) or "t::text"
        parts.append(f"SELECT '{table.name}', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY {order}), '')) "
                     f'FROM "{table.name}" t')
    return " UNION ALL ".join(parts)


def fingerprint(app) -> dict:
    """table name -> (row count, hash of every row), read in primary-key order."""
    out = {}
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if db.engine.dialect.name == "postgresql":
                cursor.execute(_pg_fingerprint_sql())
                out = {name: (count, digest) for name, count, digest in cursor.fetchall()}
            else:
                for table in db.metadata.sorted_tables:
                    order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns) or "1"
                    cursor.execute(f'SELECT * FROM "{table.name}" ORDER BY {order}')
                    rows = cursor.fetchall()
                    out[table.name] = (len(rows), hashlib.blake2b(repr(rows).encode(), digest_size=16).hexdigest())
            cursor.close()
            raw.rollback()
        finally:
            raw.close()
    return out


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


# ---------------------------------------------------------------------------------------------
# findings
# ---------------------------------------------------------------------------------------------

@dataclass
class Finding:
    endpoint: str
    method: str
    url: str
    changes: list
    status: int
    error: str = ""
    where: str = ""
    raised_at: str = ""
    trace: str = ""

    def key(self):
        return (self.endpoint, self.method, self.error.split(":")[0], self.where)

    def line(self) -> str:
        changed = ", ".join(self.changes) or "(baseline values)"
        text = f"{self.method} {self.url} with {changed} -> {self.status}"
        if self.error:
            text += f": {self.error} at {self.where}"
            if self.raised_at and self.raised_at != self.where:
                text += f" (raised in {self.raised_at})"
        return text


def _locate(exc) -> tuple[str, str]:
    """(innermost frame in the app's own code, innermost frame) of an exception's traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if f.filename.startswith(os.path.join(REPO, "did_app"))]

    def where(f):
        return f"{os.path.relpath(f.filename, REPO)}:{f.lineno} in {f.name}" if f else "?"
    inner = frames[-1] if frames else None
    raised = where(inner) if inner and not inner.filename.startswith(REPO) else ""
    if raised and inner:
        raised = f"{inner.filename.split('site-packages/')[-1]}:{inner.lineno} in {inner.name}"
    return where(own[-1] if own else inner), raised


@dataclass
class Result:
    endpoint: str
    method: str
    paths: list
    examples: int = 0
    statuses: dict = field(default_factory=lambda: defaultdict(int))
    reached: int = 0
    errors: dict = field(default_factory=dict)          # Finding.key() -> Finding
    refused_writes: list = field(default_factory=list)  # (Finding, tables)
    baseline: dict = field(default_factory=dict)        # path -> status of the unchanged values
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# the fuzzer
# ---------------------------------------------------------------------------------------------

DEFAULT_FILE = b"number,monthly_price,description\n+14155550177,1.00,fuzz\n"
FILE_COLUMNS = ("number", "monthly_price", "description", "external_reference", "expires_at")


SUPPRESSED = (HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
              HealthCheck.filter_too_much, HealthCheck.large_base_example)


class NoSeededObject(AssertionError):
    pass


class Fuzzer:
    def __init__(self, app, client, *, providers, relogin, allowed_writes=None, forbidden=None):
        self.app, self.client = app, client
        self.providers = providers          # (blueprint, argument) -> callable() -> list of values
        self.relogin = relogin              # callable(client) -> user id of a fresh admin session
        self.allowed_writes = allowed_writes or {}
        self.forbidden = forbidden or (lambda endpoint, args, fuzzer: False)
        self.recorder = Recorder(app)
        self.adapter = app.url_map.bind("localhost")
        self.token = None
        self.user_id = None
        self.links: dict = defaultdict(lambda: defaultdict(set))      # GET endpoint -> path -> queries
        self.link_hx: dict = defaultdict(bool)                        # GET endpoint seen through htmx
        self.params: dict = defaultdict(lambda: defaultdict(set))     # endpoint -> query name -> values
        self.posts: dict = defaultdict(lambda: defaultdict(dict))     # endpoint -> path -> host -> [Submission]
        self.arg_values: dict = defaultdict(lambda: defaultdict(set))  # endpoint -> argument -> values
        self.recorded: dict = defaultdict(set)                        # (endpoint, method) -> {(loc, name)}
        self.fetched: dict = {}                                       # host -> generation it was read at
        self.seen_values: dict = defaultdict(dict)                    # (blueprint, field) -> values seen
        self.generation = 0
        self.pages_read = 0
        self.fp = None
        self.results: dict = {}

    # -- URLs --

    def match(self, path: str, method: str):
        try:
            endpoint, args = self.adapter.match(path, method=method)
        except (NotFound, MethodNotAllowed, RequestRedirect):
            return None
        return endpoint, args

    def url_for(self, endpoint, **args) -> str:
        return self.adapter.build(endpoint, args, force_external=False)

    # -- session --

    def login(self):
        self.user_id = self.relogin(self.client)
        self.refresh_token()

    def refresh_token(self, url=None):
        html = self.client.get(url or self.url_for("numbers.index")).get_data().decode("utf-8", "replace")
        m = re.search(r'"X-CSRFToken": "([^"]+)"', html) or re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        self.token = m.group(1) if m else None
        self.generation += 1
        self.fp = None

    def logged_in(self) -> bool:
        response = self.client.get("/")
        location = response.headers.get("Location", "")
        return not urlsplit(location).path.startswith(self.url_for("auth.login"))

    def _after_possible_logout(self, response):
        location = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
        if self.user_id is not None and urlsplit(location).path in (self.url_for("auth.login"),
                                                                    self.url_for("auth.password")):
            if not self.logged_in():
                self.login()

    # -- crawling --

    def fetch(self, url: str, hx: bool, referer: str | None = None):
        headers = {"HX-Request": "true", "HX-Current-URL": "http://localhost" + (referer or "/numbers")} if hx else {}
        response = self.client.get(url, headers=headers)
        body = response.get_data().decode("utf-8", "replace")
        response.close()
        return response, body

    def read_page(self, url: str, hx: bool, referer: str | None = None) -> list[tuple[str, bool]]:
        """Fetch one page, store its links and submissions (replacing what it offered before)."""
        host = (url, hx)
        self.pages_read += 1
        response, body = self.fetch(url, hx, referer)
        self.fetched[host] = self.generation
        for paths in self.posts.values():
            for hosts in paths.values():
                hosts.pop(host, None)
        if response.status_code >= 400 or response.mimetype not in HTML_TYPES:
            return []
        page = scrape(body, "http://localhost" + url)
        found = []
        for raw, is_hx in page.links:
            link = self._note_link(raw, is_hx, page.base)
            if link:
                found.append(link)
        for sub in page.submissions:
            if sub.method == GET:
                matched = self.match(sub.path, GET)
                if matched:
                    for name in sub.names:
                        self.params[matched[0]][name].update(sub.options.get(name, ()))
                continue
            matched = self.match(sub.path, sub.method)
            if matched is None:
                continue
            endpoint, args = matched
            for arg, value in args.items():
                self.arg_values[endpoint][arg].add(value)
            sub.host = host
            self.posts[endpoint][sub.path].setdefault(host, []).append(sub)
            for name, value in sub.fields:
                if value and name not in ("csrf_token", "version"):
                    self.seen_values[(endpoint.rsplit(".", 1)[0], name)].setdefault(value, None)
        return found

    def _note_link(self, raw: str, hx: bool, base: str):
        parts = urlsplit(urljoin(base, raw))
        if parts.netloc not in ("", "localhost") or parts.scheme not in ("", "http", "https"):
            return None
        matched = self.match(parts.path, GET)
        if matched is None or matched[0] == "static":
            return None
        endpoint, args = matched
        self.links[endpoint][parts.path].add(parts.query)
        self.link_hx[endpoint] = self.link_hx[endpoint] or hx
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            self.params[endpoint][name].add(value)
        for arg, value in args.items():
            self.arg_values[endpoint][arg].add(value)
        return parts.path + ("?" + parts.query if parts.query else ""), hx

    def provided(self, endpoint: str, rule) -> list[dict]:
        """Argument sets for a rule: seeded objects where a provider knows the argument, else the
        values its links showed (field, section, kind); every value appears within the first few."""
        blueprint = endpoint.rsplit(".", 1)[0]
        pools = []
        for arg in sorted(rule.arguments):
            provider = self.providers.get((endpoint, arg)) or self.providers.get((blueprint, arg))
            if provider is not None:
                with self.app.app_context():
                    values = list(dict.fromkeys(provider()))
            else:
                values = sorted(self.arg_values[endpoint].get(arg, ()), key=str)
            if not values:
                return []
            pools.append((arg, values))
        names = [a for a, _ in pools]
        longest = max(len(v) for _, v in pools)
        diagonal = [tuple(v[i % len(v)] for _, v in pools) for i in range(longest)]
        rest = [c for c in product(*[v for _, v in pools]) if c not in set(diagonal)]
        combos = [dict(zip(names, c)) for c in diagonal + rest]
        return [args for args in combos if not self.forbidden(endpoint, args, self)]

    @staticmethod
    def _shape(endpoint, hx, args):
        """Pages of one shape look alike: same route, same word arguments (field, section, kind)."""
        words = tuple(sorted((k, v) for k, v in args.items()
                             if isinstance(v, str) and v.replace("_", "").replace("-", "").isalpha()
                             and v.islower() and len(v) <= 24))
        return endpoint, hx, words

    def crawl(self, per_shape=2, per_endpoint=12):
        """Read the GET pages reachable from the URL map, then the pages of every seeded object."""
        rules = [r for r in self.app.url_map.iter_rules() if GET in r.methods and r.endpoint != "static"]
        queue = [(self.url_for(r.endpoint), False) for r in rules if not r.arguments]
        seen, shapes = set(), defaultdict(int)
        while queue:
            url, hx = queue.pop(0)
            if (url, hx) in seen:
                continue
            matched = self.match(urlsplit(url).path, GET)
            if matched is None:
                continue
            shape = self._shape(matched[0], hx, matched[1])
            if shapes[shape] >= per_shape:
                continue
            shapes[shape] += 1
            seen.add((url, hx))
            queue += self.read_page(url, hx)
        for rule in rules:
            if rule.arguments:
                for args in self.provided(rule.endpoint, rule)[:per_endpoint]:
                    url = self.url_for(rule.endpoint, **args)
                    is_hx = self.link_hx[rule.endpoint]
                    if (url, is_hx) not in seen:
                        seen.add((url, is_hx))
                        self.read_page(url, is_hx)

    # -- one target --

    def candidates(self, endpoint: str, method: str) -> list[str]:
        rule = next(r for r in self.app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
        if not rule.arguments:
            return [self.url_for(endpoint)]
        if method == POST:
            scraped = sorted(p for p, hosts in self.posts[endpoint].items()
                             if hosts and (m := self.match(p, POST)) and not self.forbidden(endpoint, m[1], self))
            built = [self.url_for(endpoint, **args) for args in self.provided(endpoint, rule)]
            extra = [p for p in built if p not in scraped]
            return scraped + extra[: max(0, 12 - len(scraped))]
        paths = sorted(p for p in self.links[endpoint]
                       if (m := self.match(p, GET)) and not self.forbidden(endpoint, m[1], self))
        built = [self.url_for(endpoint, **args) for args in self.provided(endpoint, rule)]
        return sorted(set(paths) | set(built[:40]))

    def submissions_for(self, endpoint: str, path: str) -> list[Submission]:
        """The forms posting to `path`, from one page that shows them, read again if anything was
        written since (so `version` and the other values are current)."""
        hosts = self.posts[endpoint].get(path, {})
        for host in sorted(hosts, key=lambda h: (len(h[0]), h)):
            if self.fetched.get(host, -1) < self.generation:
                self.read_page(host[0], host[1])
            if hosts.get(host):
                return list(hosts[host])
        return []

    def fuzz(self, endpoint: str, method: str, *, max_examples: int, baselines: int = 3) -> Result:
        started = time.perf_counter()
        paths = self.candidates(endpoint, method)
        if not paths:
            raise NoSeededObject(f"route {method} {endpoint} has no seeded object: no page links to it and no "
                                 f"provider in the test knows its arguments")
        result = Result(endpoint, method, paths)
        step = max(1, len(paths) // baselines)
        for path in paths[::step][:baselines]:
            result.baseline[path] = self.example(result, path, None, [], hx=False, headers={})

        @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                  phases=(Phase.explicit, Phase.generate), print_blob=False,
                  suppress_health_check=SUPPRESSED)
        @seed(int.from_bytes(hashlib.sha256(f"{endpoint} {method}".encode()).digest()[:4], "big"))
        @given(st.data())
        def run(data):
            path = data.draw(st.sampled_from(paths), label="path")
            sub = pick(data, self.submissions_for(endpoint, path) if method == POST else [], "form")
            fields = self.field_names(endpoint, method, sub)
            base_query = None
            if method == GET:
                queries = sorted({q for qs in self.links[endpoint].values() for q in qs} | {""})
                base_query = pick(data, queries, "query")
            # every draw below has a shape that does not depend on the app's state (Hypothesis
            # replays examples and must see the same kinds of draws)
            mutations = []
            every = data.draw(st.integers(0, 2), label="every field") == 0
            value = draw_value(data, None, (), "value for every field")
            if every:
                # one value into every field at once: the parsing faults of all fields in one request
                mutations = [(name, "set", value) for name in fields]
            count = data.draw(st.integers(min_value=1, max_value=3), label="fields")
            for _ in range(0 if every else count):
                name = pick(data, fields + [("?", None)], "field")
                unknown = data.draw(st.sampled_from(NASTY_NAMES), label="unknown field name")
                if name == ("?", None):
                    name = (("form" if method == POST else "args"), unknown)
                op = data.draw(st.sampled_from(("set", "set", "set", "set", "drop", "twice")), label="op")
                value = draw_value(data, self.baseline_value(sub, base_query, name),
                                   self.options_for(endpoint, sub, name), f"{name[0]}:{name[1]}")
                mutations.append((name, op, value))
            hx = data.draw(st.booleans(), label="htmx")
            fill = data.draw(st.booleans(), label="fill empty fields")
            headers = {}
            if data.draw(st.integers(0, 3), label="fuzz headers") == 0:
                header = data.draw(st.sampled_from(HEADERS), label="header")
                if header == "HX-Current-URL" and data.draw(st.booleans()):
                    param = pick(data, sorted(self.params["numbers.index"]) or ["page"], "HX-Current-URL param")
                    raw = data.draw(st.sampled_from(NASTY))
                    headers[header] = "http://localhost/numbers?" + encode_pairs([(param, raw)]).decode()
                else:
                    headers[header] = header_value(data.draw(st.one_of(st.sampled_from(HEADER_VALUES),
                                                                       st.sampled_from(NASTY))))
            self.example(result, path, sub, mutations, hx=hx, headers=headers, base_query=base_query, fill=fill)

        run()
        result.seconds = time.perf_counter() - started
        self.results[(endpoint, method)] = result
        return result

    def field_names(self, endpoint, method, sub) -> list:
        names = set(self.recorded[(endpoint, method)])
        if method == GET:
            names = {n for n in names if n[0] == "args"}
            names |= {("args", n) for n in self.params[endpoint]}
        elif sub is not None:
            names |= {("file" if n in sub.files else "form", n) for n in sub.names}
            names |= {("args", n) for n, _ in sub.query}
        names = {n for n in names if not n[1].endswith("csrf_token")}  # CSRF stays valid
        return sorted(names)

    @staticmethod
    def baseline_value(sub, base_query, name):
        loc, key = name
        pairs = []
        if sub is not None:
            pairs = sub.fields if loc == "form" else sub.query if loc == "args" else []
        elif base_query:
            pairs = parse_qsl(base_query, keep_blank_values=True)
        return next((v for k, v in pairs if k == key), None)

    def options_for(self, endpoint, sub, name):
        loc, key = name
        values = set(self.params[endpoint].get(key, ())) if loc == "args" else set()
        if sub is not None:
            values |= sub.options.get(key, set())
        return {v for v in values if isinstance(v, str)}

    # -- one request --

    def example(self, result: Result, path, sub, mutations, *, hx, headers, base_query=None, fill=False):
        endpoint, method = result.endpoint, result.method
        if method == GET:
            args = parse_qsl(base_query or "", keep_blank_values=True)
            form, files = [], {}
        else:
            if sub is None:
                subs = self.submissions_for(endpoint, path)
                sub = subs[0] if subs else None
            args = list(sub.query) if sub else []
            form = [(k, v) for k, v in sub.fields] if sub else []
            files = {name: DEFAULT_FILE for name in (sub.files if sub else ())}
            form = [(k, self.token if k.endswith("csrf_token") else v) for k, v in form]
            if sub is None or "csrf_token" not in dict(form):
                form.append(("csrf_token", self.token or ""))
        changes = []
        if fill and method != GET:
            # a new-object form starts empty and stops at "required": fill its blanks with what the
            # sibling forms of the same area show, so the values also reach the service's rules
            blueprint = endpoint.rsplit(".", 1)[0]
            filled = [(k, next(iter(self.seen_values[(blueprint, k)]), v) if v == "" else v) for k, v in form]
            names = [k for (k, v), (_, w) in zip(form, filled) if v != w]
            if names:
                form = filled
                changes.append(f"blanks filled from other forms ({', '.join(names)})")
        every = len(mutations) > 3 and len({show(v) for _, _, v in mutations}) == 1
        if every:
            changes.append(f"every field ({', '.join(n for (_, n), _, _ in mutations)})={show(mutations[0][2])}")
        for (loc, name), op, value in mutations:
            if loc == "file":
                files.pop(name, None)
                if op != "drop":
                    text = value if isinstance(value, bytes) else value.encode("utf-8")
                    files[name] = (DEFAULT_FILE.split(b"\n")[0] + b"\n+14155550177," + text + b",x\n"
                                   if op == "twice" else text)
                if not every:
                    changes.append(f"file {name}={'(none)' if op == 'drop' else show(value)}")
                continue
            pairs = args if loc == "args" else form
            pairs[:] = [(k, v) for k, v in pairs if k != name]
            if op == "set":
                pairs.append((name, value))
            elif op == "twice":
                pairs += [(name, value), (name, value)]
            label = f"{'?' if loc == 'args' else ''}{show(name, 30)}"
            if every:
                continue
            changes.append(f"{label} dropped" if op == "drop" else f"{label}={show(value)}" +
                           (" (twice)" if op == "twice" else ""))
        request_headers = {}
        if hx:
            request_headers.update({"HX-Request": "true",
                                    "HX-Current-URL": "http://localhost" + (sub.host[0] if sub and sub.host else path)})
        if method != GET and self.token:
            request_headers["X-CSRFToken"] = self.token
        request_headers.update(headers)
        changes += [f"header {k}: {show(v)}" for k, v in headers.items()]
        url = path + ("?" + encode_pairs(args).decode() if args else "")

        if self.fp is None:
            self.fp = fingerprint(self.app)
        query = encode_pairs(args).decode("ascii")
        self.recorder.start()
        error = where = raised = trace = ""
        response = None
        try:
            if method == GET:
                response = self.client.get(path, query_string=query, headers=request_headers)
            elif files:
                data = MultiDict(form)
                for name, content in files.items():
                    data.add(name, (io.BytesIO(content), "fuzz.csv"))
                response = self.client.post(path, query_string=query, data=data,
                                            content_type="multipart/form-data", headers=request_headers)
            else:
                response = self.client.post(path, query_string=query, data=encode_pairs(form),
                                            content_type="application/x-www-form-urlencoded",
                                            headers=request_headers)
            status = response.status_code
            response.get_data()  # a streamed body (CSV) runs the app's code only now
            response.close()
        except Exception as exc:  # the app raised: what a user would see as a 500 or a broken download
            frames = traceback.extract_tb(exc.__traceback__)
            if response is None and not any(f.filename.endswith(os.path.join("flask", "app.py")) for f in frames):
                raise  # the test client refused to build the request: a bug of this harness, not of the app
            status = 500
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            where, raised = _locate(exc)
            trace = "".join(traceback.format_exception(exc)[-12:])
        finally:
            self.recorder.stop()
        if status >= 500 and not error and self.recorder.exception is not None:
            exc = self.recorder.exception
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            where, raised = _locate(exc)
            trace = "".join(traceback.format_exception(exc)[-12:])
        self.recorded[(endpoint, method)] |= self.recorder.keys
        result.examples += 1
        result.statuses[status] += 1
        if self.recorder.view_ran and status not in (404, 409):
            result.reached += 1
        finding = Finding(endpoint, method, url if len(url) < 200 else url[:200] + "…", changes, status,
                          error, where, raised, trace)
        if status >= 400:
            after = fingerprint(self.app)
            tables = [t for t in changed_tables(self.fp, after) if t not in self.allowed_writes.get(endpoint, ())]
            if tables and status < 500:
                result.refused_writes.append((finding, tables))
            elif tables:
                finding.error += f" (after writing {', '.join(tables)})"
            self.fp = after
        if status >= 500:
            result.errors.setdefault(finding.key(), finding)
        else:
            self.fp = None
            if method != GET:
                self.generation += 1
        if response is not None and status in (200, 204, 302, 303, 401):
            self._after_possible_logout(response)
        return status


def report_json(path: str, results) -> None:
    """Append the run's findings as JSON lines (FUZZ_REPORT=path), for the findings note."""
    with open(path, "a", encoding="utf-8") as out:
        for r in results:
            for f in r.errors.values():
                out.write(json.dumps({"kind": "5xx", **f.__dict__}) + "\n")
            for f, tables in r.refused_writes:
                out.write(json.dumps({"kind": "refused-write", "tables": tables, **f.__dict__}) + "\n")
            out.write(json.dumps({"kind": "route", "endpoint": r.endpoint, "method": r.method,
                                  "examples": r.examples, "reached": r.reached, "seconds": round(r.seconds, 2),
                                  "statuses": dict(r.statuses)}) + "\n")
