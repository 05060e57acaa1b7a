"""B10s: the server's memory over a soak of mixed traffic (`python -m bench --soak SECONDS`).

Four clients, each on its own keep-alive connection (so both gunicorn workers and several of their
threads serve), send a weighted mix of what an operator does all day: table pages with filters and
sorts, details pages, paste searches and, from one client only (so that its version numbers stay
its own), inline edits; a full CSV export goes out now and then. The summed RSS of gunicorn's
master and workers is read before, every tenth of the soak and after. Bounded in time (the
seconds asked for, plus the last requests in flight) and in count (`max_requests` in all); only
127.0.0.1 is contacted.
"""
import json
import random
import re
import threading
import time
from collections import Counter
from urllib.parse import urlencode

from bench.client import Client
from bench.server import Gunicorn
from bench.stats import Result, summary_ms

HX = {"HX-Request": "true"}
GROWTH_BAR_MB = 10
CLIENTS = 4
EXPORT_EVERY_S = 60  # at 100k numbers an export takes 3-4 s: ten of them in a 10-minute soak
_VERSION = re.compile(r'name="version" value="(\d+)"')
_SELECTED = re.compile(r'<option value="(\d+)" selected')
_STATUSES = ("active", "not_configured", "awaiting_registration", "porting", "terminated")
_SORTS = ("expires", "-expires", "number", "country", "status")
_QUICK = ("attention", "expiring_soon")


class _Traffic:
    """What one client sends; `pick()` draws the next request from the mix."""

    # (kind, weight): pages are most of the day, writes and pastes a tenth
    MIX = (("table", 45), ("details", 35), ("paste", 8), ("edit", 12))

    def __init__(self, client: Client, inputs: dict, rng: random.Random, edits: bool):
        self.client, self.inputs, self.rng = client, inputs, rng
        self.kinds = [k for k, _ in self.MIX if edits or k != "edit"]
        self.weights = [w for k, w in self.MIX if edits or k != "edit"]
        self.version: int | None = None
        self.on: int | None = None  # the trunk the edited number is on

    def pick(self) -> str:
        return self.rng.choices(self.kinds, weights=self.weights)[0]

    def send(self, kind: str):
        return getattr(self, kind)()

    def table(self):
        rng = self.rng
        args: dict = {"sort": rng.choice(_SORTS)}
        if rng.random() < 0.5:
            args["status"] = rng.choice(_STATUSES)
        elif rng.random() < 0.5:
            args["status"] = rng.choice(_QUICK)
        if rng.random() < 0.4:
            args["country"] = self.inputs["b2"].country
        if rng.random() < 0.2:
            args["description"] = self.inputs["b2"].word
        if rng.random() < 0.2:
            args["page"] = rng.randint(2, 5)
        return self.client.get("/numbers?" + urlencode(args), headers=HX if rng.random() < 0.5 else None)

    def details(self):
        return self.client.get(f"/numbers/{self.rng.choice(self.inputs['b8'])}")

    def paste(self):
        # a part of B3's paste, so each search (and the saved list it makes) differs in size
        lines = self.inputs["b3"].text.splitlines()
        text = "\n".join(lines[:self.rng.randint(20, len(lines))])
        post = self.client.request("POST", "/numbers/lists", form={"q": text},
                                   headers={**HX, "X-CSRFToken": self.client.csrf})
        location = post.headers.get("HX-Location")
        if post.status != 200 or not location:
            return post
        return self.client.get(json.loads(location)["path"], headers=HX)

    def edit(self):
        """Switch the B4 number between its two trunks; every POST changes it, so bumps its version."""
        target = self.inputs["b4"]
        number_id, trunks = target["number_id"], target["trunks"]
        if self.version is None:
            editor = f"/numbers/{number_id}/cells/voice_route/edit"
            page = self.client.get(editor, headers=HX)
            if page.status != 200:
                return page
            self.version = int(_VERSION.search(page.text).group(1))
            current = _SELECTED.search(page.text)
            self.on = trunks[0] if current and int(current.group(1)) == trunks[0] else trunks[1]
        self.on = trunks[1] if self.on == trunks[0] else trunks[0]
        resp = self.client.request("POST", f"/numbers/{number_id}/cells/voice_route", form={
            "version": str(self.version), "value": str(self.on)},
            headers={**HX, "X-CSRFToken": self.client.csrf, "HX-Current-URL": "http://127.0.0.1/numbers"})
        # anything but the row and counts back: read the version again before the next edit
        self.version = self.version + 1 if resp.status == 200 and 'id="counts"' in resp.text else None
        return resp

    def export(self):
        return self.client.get("/numbers/export.csv", headers={"Accept": "text/csv"}, sink=lambda chunk: None)


class _Tally:
    """Counts and latencies by kind, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok: Counter = Counter()
        self.failed: Counter = Counter()
        self.seconds: dict[str, list[float]] = {}

    def add(self, kind: str, resp=None, error: str | None = None) -> None:
        with self.lock:
            if error is not None or resp.status >= 400:
                self.failed[f"{kind}: {error or f'HTTP {resp.status}'}"] += 1
                return
            self.ok[kind] += 1
            self.seconds.setdefault(kind, []).append(resp.seconds)

    @property
    def total(self) -> int:
        return sum(self.ok.values()) + sum(self.failed.values())


def _client_loop(traffic: _Traffic, tally: _Tally, end: float, budget: int, exports: bool) -> None:
    next_export = time.monotonic() + EXPORT_EVERY_S / 2
    try:
        while time.monotonic() < end and tally.total < budget:
            kind = traffic.pick()
            if exports and time.monotonic() >= next_export:
                kind, next_export = "export", next_export + EXPORT_EVERY_S
            try:
                tally.add(kind, traffic.send(kind))
            except OSError as exc:
                tally.add(kind, error=type(exc).__name__)
    finally:
        traffic.client.close()


def _rss_mb(server: Gunicorn) -> float:
    return round(server.rss_kb() / 1024, 1)


def b10s_soak(client: Client, server: Gunicorn, inputs: dict, seconds: float, seed: int,
              max_requests: int = 500_000) -> Result:
    """Mixed traffic for `seconds`; the growth of the summed RSS from before to after."""
    what = f"  B10s: RSS growth over a {seconds:.0f} s soak of mixed traffic"
    bar = f"≤ {GROWTH_BAR_MB} MB"
    tally = _Tally()
    started = time.monotonic()
    end = started + seconds
    samples = [(0.0, _rss_mb(server))]
    threads = [threading.Thread(target=_client_loop, daemon=True, args=(
        _Traffic(client.clone(), inputs, random.Random(seed * 100 + i), edits=i == 0), tally, end,
        max_requests, i == 1)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    every = max(1.0, seconds / 10)
    next_sample = started + every
    while any(t.is_alive() for t in threads) and time.monotonic() < end + 120:
        time.sleep(0.2)
        if next_sample <= time.monotonic() < end:
            samples.append((round(time.monotonic() - started, 1), _rss_mb(server)))
            next_sample += every
    for t in threads:
        t.join(5)
    elapsed = time.monotonic() - started
    samples.append((round(elapsed, 1), _rss_mb(server)))
    growth = samples[-1][1] - samples[0][1]
    # from the first sample inside the soak: what is left once the benchmark's own peaks have gone
    settled = samples[-1][1] - samples[1][1] if len(samples) > 2 else growth
    requests = sum(tally.ok.values())
    errors = sum(tally.failed.values())
    data = {"seconds": round(elapsed, 1), "clients": CLIENTS, "requests_ok": dict(tally.ok),
            "failures": dict(tally.failed), "rss_samples_mb": samples, "growth_mb": round(growth, 1),
            "growth_from_first_tenth_mb": round(settled, 1),
            "peak_mb": max(mb for _, mb in samples),
            "latency_ms": {k: summary_ms(v) for k, v in tally.seconds.items()}}
    figure = (f"{growth:+.1f} MB ({samples[0][1]:.0f} → {samples[-1][1]:.0f} MB, peak {data['peak_mb']:.0f}, "
              f"{settled:+.1f} MB from the first tenth); "
              f"{requests:,} requests in {elapsed:.0f} s, {tally.ok['export']} exports, "
              f"{errors} errors")
    return Result("B10s", what, figure, bar, growth <= GROWTH_BAR_MB and not errors, data)


def not_soaked() -> Result:
    return Result("B10s", "  B10s: RSS growth over a soak of mixed traffic",
                  "not measured (run with --soak 600)", f"≤ {GROWTH_BAR_MB} MB", None, {})
