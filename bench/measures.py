"""The HTTP measurements B1–B10 and page weight, against the running gunicorn."""
import csv
import gzip
import io
import json
import re
import threading
import time
from collections import Counter
from urllib.parse import urlencode, urlsplit

from bench.client import Client
from bench.data import raw_b1_once
from bench.server import BenchError, Gunicorn
from bench.stats import Result, summary_ms, timed_rounds

HX = {"HX-Request": "true"}
B10_BAR_MB = 250  # issue 9 §6: gunicorn's master and two workers after the benchmark
_ROW = re.compile(r'<tr id="number-\d+"')
_BANNER = re.compile(r"Searched ([\d,]+) numbers: ([\d,]+) found\.")
_SCRIPT = re.compile(r'<script[^>]*\ssrc="([^"]+)"')
_LINKED = re.compile(r'\s(?:src|href)="((?:https?:)?//[^"]+)"')


def _check(resp, path: str, status: int = 200):
    if resp.status != status:
        raise BenchError(f"{path} answered {resp.status}, expected {status}: {resp.text[:300]!r}")
    return resp


def _get_timer(client: Client, path: str, headers: dict | None = None):
    def once() -> float:
        return _check(client.get(path, headers=headers), path).seconds
    return once


def _p50_p95(samples, p50_bar=None, p95_bar=None) -> tuple[dict, str, bool | None]:
    s = summary_ms(samples)
    figure = f"p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms (n={s['n']})"
    ok = None
    if p50_bar is not None:
        ok = s["p50"] <= p50_bar and (p95_bar is None or s["p95"] <= p95_bar)
    return s, figure, ok


def b1_default_page(client: Client, rounds: int, warmup: int) -> Result:
    path = "/numbers"
    body = _check(client.get(path), path).text
    rows = len(_ROW.findall(body))
    if rows != 50:
        raise BenchError(f"/numbers shows {rows} rows, expected 50")
    s, figure, ok = _p50_p95(timed_rounds(_get_timer(client, path), rounds, warmup), 25, 50)
    return Result("B1", "My Numbers default page (50 rows + counts)", figure, "p50 ≤ 25 ms, p95 ≤ 50 ms",
                  ok, {"path": path, **s})


def b12_overview(client: Client, rounds: int, warmup: int) -> Result:
    path = "/overview"
    body = _check(client.get(path), path).text
    if "Readiness blockers" not in body or "<title>Week of" not in body:
        raise BenchError(f"{path} lacks its blockers or its timeline")
    s, figure, ok = _p50_p95(timed_rounds(_get_timer(client, path), rounds, warmup), 25)
    return Result("B12", "Overview page p50 ≤ 25 ms (counts, blockers, 90-day timeline)", figure, "p50 ≤ 25 ms",
                  ok, {"path": path, **s})


def b2_filtered_page(client: Client, pick, rounds: int, warmup: int) -> Result:
    path = "/numbers?" + urlencode({"status": "not_configured", "country": pick.country,
                                    "description": pick.word, "sort": "expires"})
    body = _check(client.get(path), path).text
    rows = len(_ROW.findall(body))
    if rows != min(50, pick.expected_rows) or rows == 0:
        raise BenchError(f"{path} shows {rows} rows; the database has {pick.expected_rows} matching")
    s, figure, ok = _p50_p95(timed_rounds(_get_timer(client, path), rounds, warmup), 40)
    return Result("B2", f"Filtered: not configured + {pick.country} + description '{pick.word}' + sort expires",
                  figure, "p50 ≤ 40 ms", ok,
                  {"path": path, "matching_rows": pick.expected_rows, "rows_shown": rows, **s})


def b2_registration_filters(client: Client, con, rounds: int, warmup: int) -> list[Result]:
    """The registration filters of the table (issue 10) against B2's bar: the identity holding the
    most numbers, and each verification state that the demo has."""
    top = con.execute("SELECT identity_id, COUNT(*) FROM number WHERE identity_id IS NOT NULL "
                      "GROUP BY identity_id ORDER BY 2 DESC LIMIT 1").fetchone()
    picks = [("identity", str(top[0]), top[1])] if top else []
    picks += [("verification", state, None) for state in ("missing", "pending", "rejected", "approved")]
    out = []
    for key, value, count in picks:
        path = "/numbers?" + urlencode({key: value})
        rows = len(_ROW.findall(_check(client.get(path), path).text))
        if rows == 0:
            raise BenchError(f"{path} shows no rows; the demo should have some")
        s, figure, ok = _p50_p95(timed_rounds(_get_timer(client, path), rounds, warmup), 40)
        what = f"Filter {key}={value}" + (f" ({count:,} numbers)" if count else "")
        out.append(Result("B2r", what, figure, "p50 ≤ 40 ms (B2's bar)", ok, {"path": path, "rows": rows, **s}))
    return out


def _banner(html: str) -> tuple[int, int] | None:
    m = _BANNER.search(html)
    return (int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))) if m else None


def b3_paste_list(client: Client, paste, rounds: int, warmup: int) -> list[Result]:
    """POST the paste as htmx does, follow HX-Location as a fragment GET; also GET the full page."""
    expected = (paste.searched, paste.found)
    seen_banner: list = []
    list_paths: list[str] = []

    def round_trip() -> float:
        post = client.request("POST", "/numbers/lists", form={"q": paste.text},
                              headers={**HX, "X-CSRFToken": client.csrf})
        _check(post, "POST /numbers/lists")
        location = post.headers.get("HX-Location")
        if not location:
            raise BenchError("POST /numbers/lists (htmx) answered without HX-Location")
        path = json.loads(location)["path"]
        page = _check(client.get(path, headers=HX), path)
        seen_banner.append(_banner(page.text))
        list_paths.append(path)
        return post.seconds + page.seconds

    trips = timed_rounds(round_trip, rounds, warmup)
    wrong = [b for b in seen_banner if b != expected]
    if wrong:
        raise BenchError(f"B3 banner wrong: expected Searched {expected[0]}: {expected[1]} found, got {wrong[0]}")
    list_path = list_paths[-1]
    full = _check(client.get(list_path), list_path)
    if _banner(full.text) != expected:
        raise BenchError(f"B3 full page banner: {_banner(full.text)}, expected {expected}")
    s, figure, ok = _p50_p95(trips, 60)
    sg, figure_g, _ = _p50_p95(timed_rounds(_get_timer(client, list_path), rounds, warmup))
    # a plain POST answers 303 to the same list page (the non-JavaScript path)
    plain = client.request("POST", "/numbers/lists", form={"q": paste.text},
                           headers={"X-CSRFToken": client.csrf})
    plain_ok = plain.status == 303 and urlsplit(plain.headers.get("Location", "")).path == "/numbers"
    banner = f"Searched {expected[0]} numbers: {expected[1]} found."
    return [
        Result("B3", "Paste-a-list, 500 mixed formats, 20 unknown: POST + list page (htmx)", figure,
               "p50 ≤ 60 ms", ok, {"banner": banner, "banner_ok": True, "plain_post_303": plain_ok,
                                   "sample_items": paste.sample, **s}),
        Result("B3g", "  of which: GET of the saved-list page (full page)", figure_g, "reported", None,
               {"path": list_path, **sg}),
        Result("B3c", "  banner check", f"'{banner}' shown", "correct", True, {}),
    ]


def b8_details(client: Client, digits: list[str], rounds: int, warmup: int) -> Result:
    paths = [f"/numbers/{d}" for d in digits]
    for p in paths[:warmup]:
        _check(client.get(p), p)
    cycle = iter(paths * (rounds // max(1, len(paths)) + 1))

    def once() -> float:
        p = next(cycle)
        return _check(client.get(p), p).seconds

    s, figure, ok = _p50_p95(timed_rounds(once, rounds, 0), 30)
    return Result("B8", f"Number details page ({len(paths)} numbers, all statuses)", figure,
                  "p50 ≤ 30 ms", ok, s)


class _RssSampler(threading.Thread):
    def __init__(self, server: Gunicorn, every: float = 0.02, limit_s: float = 120):
        super().__init__(daemon=True)
        self.server, self.every, self.limit_s = server, every, limit_s
        self.peak_kb, self.samples = 0, 0
        self.stop = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.limit_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.peak_kb = max(self.peak_kb, self.server.rss_kb())
            self.samples += 1
            self.stop.wait(self.every)


def b6_export(client: Client, server: Gunicorn, expected_numbers: int) -> list[Result]:
    path = "/numbers/export.csv"
    baseline_kb = max(server.rss_kb() for _ in range(3))
    sampler = _RssSampler(server)
    sampler.start()
    chunks: list[bytes] = []
    try:
        resp = client.get(path, headers={"Accept": "text/csv"}, sink=chunks.append)
    finally:
        sampler.stop.set()
        sampler.join(5)
    _check(resp, path)
    after_kb = server.rss_kb()
    rows = sum(1 for _ in csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"))))
    growth_mb = max(0, sampler.peak_kb - baseline_kb) / 1024
    data = {"seconds": round(resp.seconds, 3), "first_byte_ms": round(resp.first_byte * 1000, 1),
            "bytes": resp.size, "rows_including_header": rows, "expected_rows": expected_numbers + 1,
            "rss_before_mb": round(baseline_kb / 1024, 1), "rss_peak_mb": round(sampler.peak_kb / 1024, 1),
            "rss_after_mb": round(after_kb / 1024, 1), "rss_samples": sampler.samples}
    rows_ok = rows == expected_numbers + 1
    return [
        Result("B6", f"CSV export of all numbers ({resp.size / 1e6:.1f} MB)", f"{resp.seconds:.2f} s "
               f"(first byte {resp.first_byte * 1000:.0f} ms)", "≤ 3 s", resp.seconds <= 3.0, data),
        Result("B6m", "  server memory growth during the export", f"{growth_mb:.1f} MB "
               f"(peak {sampler.peak_kb / 1024:.0f} MB)", "≤ 30 MB", growth_mb <= 30, data),
        Result("B6r", "  rows in the CSV", f"{rows:,} (expected {expected_numbers + 1:,})",
               "N + 1 header", rows_ok, data),
    ]


def b9_throughput(client: Client, clients: int = 8, seconds: float = 10,
                  max_requests: int = 50_000) -> Result:
    path = "/numbers"
    counts, latencies = [0] * clients, [[] for _ in range(clients)]
    failures: list[Counter] = [Counter() for _ in range(clients)]
    start_gate = threading.Barrier(clients + 1)
    budget = max_requests // clients

    def worker(i: int):
        mine = client.clone()
        try:
            start_gate.wait(10)
            end = time.monotonic() + seconds
            while time.monotonic() < end and counts[i] + sum(failures[i].values()) < budget:
                try:
                    resp = mine.get(path)
                except OSError as exc:
                    failures[i][type(exc).__name__] += 1
                    continue
                if resp.status == 200:
                    counts[i] += 1
                    latencies[i].append(resp.seconds)
                else:
                    failures[i][f"HTTP {resp.status}"] += 1
        finally:
            mine.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait(10)
    began = time.perf_counter()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.perf_counter() - began
    total = sum(counts)
    failed = sum(failures, Counter())
    s = summary_ms([x for lat in latencies for x in lat])
    data = {"clients": clients, "seconds": round(elapsed, 2), "requests_ok": total,
            "failures": dict(failed), "req_per_s": round(total / elapsed, 1), "latency": s}
    errors = ", ".join(f"{n} {kind}" for kind, n in failed.most_common()) or "0 errors"
    return Result("B9", f"Throughput of B1, {clients} concurrent clients, {seconds:.0f} s",
                  f"{total / elapsed:.1f} req/s (p50 {s.get('p50', 0):.0f} ms; {errors})",
                  "reported; no errors", False if failed else None, data)


def server_errors(server: Gunicorn) -> Result:
    """Anything the app logged as an error during the run (a 500 that a check did not see)."""
    try:
        lines = server.log_path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    errors = [line for line in lines if " ERROR " in line or "[CRITICAL]" in line]
    kinds = Counter(line.split(": ", 1)[0].rsplit(" ", 1)[-1] for line in lines
                    if re.match(r"^[\w.]+(Error|Exception)\b", line))
    detail = ", ".join(f"{n}× {k}" for k, n in kinds.most_common(3))
    return Result("E1", "Errors in the gunicorn log during the run", f"{len(errors)}"
                  + (f" ({detail})" if detail else ""), "0", not errors,
                  {"log": str(server.log_path), "first": errors[:5], "kinds": dict(kinds)})


def b10_memory(server: Gunicorn) -> Result:
    per = server.memory_by_process()
    rss_mb = sum(r for r, _ in per.values()) / 1024
    pss_mb = sum(p for _, p in per.values()) / 1024
    return Result("B10", f"B10 after the run: server RSS, sum of {len(per)} processes",
                  f"{rss_mb:.1f} MB (PSS {pss_mb:.1f} MB)", f"≤ {B10_BAR_MB} MB", rss_mb <= B10_BAR_MB,
                  {"rss_mb": round(rss_mb, 1), "pss_mb": round(pss_mb, 1),
                   "per_process_rss_pss_mb": {str(k): [round(r / 1024, 1), round(p / 1024, 1)]
                                              for k, (r, p) in per.items()}})


def interleaved(client: Client, con, ds, rounds: int, warmup: int, budget_s: float = 180) -> dict:
    """B1, the raw SQL behind it and Datasette's page, one after the other in every round, so that
    whatever else the machine is doing weighs on all three alike."""
    series = {"b1": [], "raw": [], "datasette": []}
    deadline = time.monotonic() + budget_s
    for i in range(warmup + rounds):
        if time.monotonic() > deadline:
            break
        b1 = _check(client.get("/numbers"), "/numbers").seconds
        raw = raw_b1_once(con)
        other = ds.once() if ds is not None else None
        if i >= warmup:
            series["b1"].append(b1)
            series["raw"].append(raw)
            if other is not None:
                series["datasette"].append(other)
    return {k: summary_ms(v) for k, v in series.items() if v}


def page_weight(client: Client) -> list[Result]:
    html = _check(client.get("/numbers"), "/numbers").body
    raw_kb, gz_kb = len(html) / 1024, len(gzip.compress(html, 6)) / 1024
    text = html.decode()
    scripts = _SCRIPT.findall(text)
    external = sorted(set(_LINKED.findall(text)))
    js = {}
    for src in scripts:
        if src.startswith(("http:", "https:", "//")):
            continue
        body = _check(client.get(src), src).body
        js[src] = {"bytes": len(body), "gzip": len(gzip.compress(body, 6))}
    js_gz_kb = sum(v["gzip"] for v in js.values()) / 1024
    return [
        Result("W1", "/numbers HTML, 50 rows", f"{raw_kb:.1f} KB raw, {gz_kb:.1f} KB gzip",
               "≤ 150 KB, ≤ 25 KB gzip", raw_kb <= 150 and gz_kb <= 25,
               {"bytes": len(html), "gzip_bytes": len(gzip.compress(html, 6))}),
        Result("W2", f"All JavaScript ({len(js)} files)", f"{js_gz_kb:.1f} KB gzip", "≤ 25 KB gzip",
               js_gz_kb <= 25, {"files": js}),
        Result("W3", "Assets from other hosts on /numbers", f"{len(external)}", "0", not external,
               {"external": external}),
    ]


_VERSION = re.compile(r'name="version" value="(\d+)"')


def b4_inline_edit(client: Client, target: dict, rounds: int, warmup: int) -> Result:
    """Switch one number's voice trunk back and forth inline: POST, get the row and counts back."""
    number_id, trunks = target["number_id"], target["trunks"]
    editor = f"/numbers/{number_id}/cells/voice_route/edit"
    page = _check(client.get(editor, headers=HX), editor).text
    version = int(_VERSION.search(page).group(1))
    current = re.search(r'<option value="(\d+)" selected', page)
    # start with the trunk it is not on, so every POST changes something and bumps the version
    start = 0 if current and int(current.group(1)) == trunks[1] else 1
    path = f"/numbers/{number_id}/cells/voice_route"
    state = {"version": version, "i": start - 1}
    headers = {**HX, "X-CSRFToken": client.csrf, "HX-Current-URL": "http://127.0.0.1/numbers"}

    def once() -> float:
        state["i"] += 1
        resp = _check(client.request("POST", path, headers=headers, form={
            "version": str(state["version"]), "value": str(trunks[state["i"] % 2])}), path)
        if 'id="counts"' not in resp.text or f'id="number-{number_id}"' not in resp.text:
            raise BenchError("the inline edit did not return the row and the counts")
        state["version"] += 1
        return resp.seconds

    s, figure, ok = _p50_p95(timed_rounds(once, rounds, warmup), 15)
    return Result("B4", "Inline edit round trip (voice trunk; row + counts back)", figure, "p50 ≤ 15 ms", ok,
                  {"path": path, **s})
