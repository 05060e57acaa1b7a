"""Batch measures over HTTP (quality-bars.md B5, B11, and B1 while a batch applies).

B5: "assign voice trunk" on the ~10,000 numbers of one filter: the preview POST plus the confirm
POST (the apply runs in the request up to 20,000, history included). B5c: the same batch size
applies again while a second client times B1 and a third makes one inline edit. B11: a batch over
every number: preview, apply (in the background above 20,000: the summary's progress poll is
followed until it ends) and undo.
"""
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from bench.client import Client
from bench.server import BenchError
from bench.stats import Result, summary_ms

HX = {"HX-Request": "true"}
_BATCH = re.compile(r"/batches/(\d+)")
_COUNTS = re.compile(r"<strong>([\d,]+) (?:will change|changed)</strong>")
_VERSION = re.compile(r'name="version" value="(\d+)"')
B5_BAR_S, B11_BAR_S, B1_P95_BAR_MS = 1.5, 20.0, 50.0


@dataclass
class BatchTarget:
    filter: str      # the /numbers query string whose numbers the batch takes
    count: int       # numbers it matches
    trunks: list     # two voice trunk ids to move them between
    member: int      # a voice number among them, for the inline edit during the apply


def pick_target(con, size: int = 10_000) -> BatchTarget:
    """The country (or country + status) filter whose count is nearest `size`, and two trunks."""
    candidates = [({"country": c}, n) for c, n in con.execute("SELECT country, count(*) FROM number GROUP BY country")]
    candidates += [({"country": c, "status": s}, n) for c, s, n in con.execute(
        "SELECT country, status, count(*) FROM number GROUP BY country, status")]
    params, count = min(candidates, key=lambda pair: abs(pair[1] - size))
    trunks = [r[0] for r in con.execute("SELECT id FROM voice_route WHERE kind = 'trunk' ORDER BY id LIMIT 2")]
    if len(trunks) < 2:
        raise BenchError("the demo data has fewer than two voice trunks")
    where = " AND ".join(f"{column} = ?" for column in params)
    member = con.execute(f"SELECT id FROM number WHERE {where} AND features % 2 = 1 AND porting = 0 "
                         "ORDER BY id LIMIT 1", list(params.values())).fetchone()[0]
    return BatchTarget(urlencode(params), count, trunks, member)


def _post(client: Client, path: str, form: dict, expect=(303,)):
    resp = client.request("POST", path, form=form, headers={"X-CSRFToken": client.csrf})
    if resp.status not in expect:
        raise BenchError(f"POST {path} answered {resp.status}: {resp.text[:300]!r}")
    return resp


def preview(client: Client, query: str, trunk: int) -> tuple[int, int, float]:
    """(batch id, numbers that change, seconds) of a voice-route preview over a filter."""
    resp = _post(client, "/batches", {"action": "voice_route", "filter": query, "route": str(trunk), "ids": ""})
    batch_id = int(_BATCH.search(resp.headers["Location"]).group(1))
    page = client.get(f"/batches/{batch_id}")
    match = _COUNTS.search(page.text)
    if not match:
        raise BenchError(f"/batches/{batch_id} shows no count of changes")
    return batch_id, int(match.group(1).replace(",", "")), resp.seconds


def confirm(client: Client, batch_id: int) -> float:
    """Confirm, then (for a background apply) follow the progress poll until it ends: seconds."""
    start = time.perf_counter()
    _post(client, f"/batches/{batch_id}/confirm", {})
    while not client.get(f"/batches/{batch_id}/progress", headers=HX).headers.get("HX-Redirect"):
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    page = client.get(f"/batches/{batch_id}").text
    if 'class="badge">Applied<' not in page:
        raise BenchError(f"batch {batch_id} did not end applied: {page[page.find('badge'):][:80]!r}")
    return seconds


def b5_batch(client: Client, target: BatchTarget) -> Result:
    batch_id, changes, preview_s = preview(client, target.filter, target.trunks[0])
    apply_s = confirm(client, batch_id)
    total = preview_s + apply_s
    return Result("B5", f"Batch assign voice trunk, {changes:,} numbers ({target.filter}): preview + apply",
                  f"{total:.2f} s (preview {preview_s:.2f} s, apply {apply_s:.2f} s)", f"≤ {B5_BAR_S} s",
                  total <= B5_BAR_S,
                  {"filter": target.filter, "changes": changes, "preview_s": preview_s, "apply_s": apply_s})


def _open_editor(client: Client, number_id: int) -> int:
    """The inline editor's version, read before the batch applies (as a person's open editor)."""
    editor = f"/numbers/{number_id}/cells/voice_route/edit"
    return int(_VERSION.search(client.get(editor, headers=HX).text).group(1))


def _inline_edit(client: Client, number_id: int, version: int, trunk: int) -> dict:
    resp = client.request("POST", f"/numbers/{number_id}/cells/voice_route", form={
        "version": str(version), "value": str(trunk)},
        headers={**HX, "X-CSRFToken": client.csrf, "HX-Current-URL": "http://127.0.0.1/numbers"})
    message = re.search(r'class="field-error"[^>]*>([^<]+)<', resp.text)
    return {"status": resp.status, "seconds": round(resp.seconds, 3),
            "message": message.group(1) if message else None}


def b5_concurrent(client: Client, target: BatchTarget) -> Result:
    """B1's p95 while a 10,000-number batch applies, and what an inline edit of one of its numbers,
    opened before the confirm and saved while it applies, meets meanwhile."""
    batch_id, changes, _ = preview(client, target.filter, target.trunks[1])
    applier, reader, editor = client.clone(), client.clone(), client.clone()
    done, samples, edit, failure = threading.Event(), [], {}, []
    version = _open_editor(editor, target.member)

    def apply():
        try:
            confirm(applier, batch_id)
        except BenchError as exc:  # e.g. the edit landed first: the confirm asks for a new preview
            failure.append(str(exc))
        finally:
            done.set()

    thread = threading.Thread(target=apply)
    thread.start()
    time.sleep(0.15)  # the confirm has claimed the batch and re-checked it
    edit_thread = threading.Thread(target=lambda: edit.update(
        _inline_edit(editor, target.member, version, target.trunks[0])))
    edit_thread.start()
    while not done.is_set():
        resp = reader.get("/numbers")
        if resp.status != 200:
            raise BenchError(f"/numbers answered {resp.status} while a batch applied")
        samples.append(resp.seconds)
    thread.join()
    edit_thread.join()
    if not samples:
        raise BenchError("no B1 sample while the batch applied")
    s = summary_ms(samples)
    edit_words = (f"inline edit {edit['status']} in {edit['seconds']:.2f} s"
                  + (f" ('{edit['message']}')" if edit.get("message") else ""))
    if failure:
        edit_words += f"; the batch: {failure[0][:120]}"
    ok = s["p95"] <= B1_P95_BAR_MS and edit.get("status", 500) < 500 and not failure
    return Result("B5c", f"B1 while a {changes:,}-number batch applies; one inline edit meanwhile",
                  f"B1 p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms (n={s['n']}); {edit_words}",
                  f"p95 ≤ {B1_P95_BAR_MS:.0f} ms, no 5xx", ok, {"b1": s, "edit": edit})


def b11_all(client: Client, target: BatchTarget) -> Result:
    """Every number onto the other trunk: preview, apply (background), undo."""
    batch_id, changes, preview_s = preview(client, "", target.trunks[0])
    apply_s = confirm(client, batch_id)
    resp = _post(client, f"/batches/{batch_id}/undo", {})
    undo_s = resp.seconds
    total = preview_s + apply_s + undo_s
    return Result("B11", f"Batch over all numbers ({changes:,} change): preview, apply, undo",
                  f"{total:.1f} s (preview {preview_s:.1f}, apply {apply_s:.1f}, undo {undo_s:.1f})",
                  f"≤ {B11_BAR_S:.0f} s", total <= B11_BAR_S,
                  {"changes": changes, "preview_s": preview_s, "apply_s": apply_s, "undo_s": undo_s})
