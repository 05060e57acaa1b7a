"""`python -m bench`: seed a fresh workspace, serve it with gunicorn, measure, print, write JSON.

Exit status 0 whenever the measurement ran, even when a bar is missed (the table says MISSED);
non-zero only when the harness itself could not measure.
"""
import argparse
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import batches, data, datasette, explain, measures, scheduler_tick, soak
from bench.client import Client
from bench.machine import CpuWatch
from bench.server import EMAIL, PASSWORD, REPO, BenchError, Gunicorn, Workspace
from bench.stats import Result

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--numbers", type=int, default=100_000, help="inventory size to seed (default 100000)")
    p.add_argument("--seed", type=int, default=1, help="seed for the demo data and the samples")
    p.add_argument("--rounds", type=int, default=40, help="timed rounds per latency measure (default 40)")
    p.add_argument("--warmup", type=int, default=5, help="untimed rounds first (default 5)")
    p.add_argument("--throughput-seconds", type=float, default=10.0, help="B9 duration (default 10)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder with the database")
    p.add_argument("--explain", action="store_true", help="print EXPLAIN QUERY PLAN of every statement")
    p.add_argument("--no-datasette", action="store_true", help="skip the optional Datasette comparison")
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--soak", type=float, default=0, metavar="SECONDS",
                   help="after the measures, mixed traffic for SECONDS and the RSS growth (B10s); 600 for the bar")
    args = p.parse_args(argv)
    if args.numbers < 1000:
        p.error("--numbers must be at least 1000 (B3 pastes 480 existing numbers, B1 needs 50 rows)")
    if not 1 <= args.rounds <= 1000:
        p.error("--rounds must be 1..1000")
    if not 0 <= args.soak <= 3600:
        p.error("--soak must be 0..3600 seconds")
    return args


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def _step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def prepare(ws: Workspace, args) -> tuple[list[Result], dict]:
    _step(f"workspace {ws.dir}")
    upgrade_s, _ = ws.flask("db", "upgrade")
    _step(f"db upgrade {upgrade_s:.1f} s; seeding {args.numbers:,} numbers …")
    seed_s, summary = ws.flask("seed-demo", "--numbers", str(args.numbers), "--seed", str(args.seed),
                               timeout=1800)
    _step(f"seed-demo {seed_s:.1f} s: {summary.splitlines()[-1] if summary else ''}")
    ws.flask("create-user", EMAIL, "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    info = {"upgrade_seconds": round(upgrade_s, 2), "seed_seconds": round(seed_s, 2),
            "seed_output": summary, "db_bytes": ws.db.stat().st_size}
    rows = [Result("S1", f"seed-demo --numbers {args.numbers:,} (wall clock, incl. app start)",
                   f"{seed_s:.1f} s", "reported", None, info)]
    return rows, info


def run_http(server: Gunicorn, ds, con, args, inputs: dict) -> tuple[list[Result], dict]:
    client = Client(server.port)
    client.login(EMAIL, PASSWORD)
    _step("logged in; page weight, B1, B2, B3, B8 …")
    out = measures.page_weight(client)
    out.append(measures.b1_default_page(client, args.rounds, args.warmup))
    _step("B1 / raw SQL / Datasette, interleaved …")
    compared = measures.interleaved(client, con, ds, args.rounds, args.warmup)
    out.append(measures.b2_filtered_page(client, inputs["b2"], args.rounds, args.warmup))
    out += measures.b2_registration_filters(client, con, args.rounds, args.warmup)
    out += measures.b3_paste_list(client, inputs["b3"], args.rounds, args.warmup)
    out.append(measures.b8_details(client, inputs["b8"], args.rounds, args.warmup))
    out.append(measures.b12_overview(client, args.rounds, args.warmup))
    out.append(measures.b4_inline_edit(client, inputs["b4"], args.rounds, args.warmup))
    _step("B6 CSV export …")
    out += measures.b6_export(client, server, inputs["count"])
    _step(f"B9 throughput, 8 clients for {args.throughput_seconds:.0f} s …")
    out.append(measures.b9_throughput(client, 8, args.throughput_seconds))
    out.append(measures.b10_memory(server))
    _step("B5, B5c, B11 batches (after B10: a 100,000-number batch is not part of the memory bar's run) …")
    out.append(batches.b5_batch(client, inputs["batch"]))
    out.append(batches.b5_concurrent(client, inputs["batch"]))
    out.append(batches.b11_all(client, inputs["batch"]))
    if args.soak:
        _step(f"B10s soak: mixed traffic, {soak.CLIENTS} clients for {args.soak:.0f} s …")
        out.append(soak.b10s_soak(client, server, inputs, args.soak, args.seed))
    else:
        out.append(soak.not_soaked())
    out.append(measures.server_errors(server))
    client.close()
    return out, compared


def comparisons(compared: dict, ds_note: str | None) -> list[Result]:
    """C1 and C2 from the interleaved rounds (same moments, same machine load)."""
    b1, raw = compared["b1"]["p50"], compared["raw"]["p50"]
    out = [Result("C1", "B1 / raw SQL behind it (sqlite3: 50 ids, rows, grouped counts)",
                  f"{b1 / raw:.1f}× (B1 {b1:.1f} ms, raw {raw:.2f} ms, p50 interleaved)", "≤ 3×",
                  b1 / raw <= 3, {**compared, "queries": list(data.RAW_B1)})]
    what = "B1 vs Datasette 0.65.5 (50 rows by expiry + 1 facet)"
    if "datasette" in compared:
        other = compared["datasette"]["p50"]
        out.append(Result("C2", what, f"B1 {b1:.1f} ms vs Datasette {other:.1f} ms (p50 interleaved)",
                          "B1 ≤ Datasette", b1 <= other, compared["datasette"]))
    else:
        out.append(Result("C2", what, f"not measured ({ds_note or 'skipped'})", "B1 ≤ Datasette", None, {}))
    return out


def profile_rows(profiles) -> list[Result]:
    """Where each page's time goes: in-process request time, the SQL part, the slowest statement."""
    out = []
    for p in profiles:
        top = p.slowest()
        slow = f"; slowest {top.ms:.1f} ms: {explain.short(top.sql, 48)}" if top else ""
        out.append(Result("P" + p.name.split()[0][1:], f"SQL share of {p.name} (in-process, no HTTP)",
                          f"{p.request_ms:.1f} ms, SQL {p.sql_ms:.1f} ms{slow}", "diagnosis", None,
                          p.as_dict()))
    return out


def print_table(results: list[Result], machine: dict) -> None:
    widths = [4, max(len(r.what) for r in results), max(len(r.figure) for r in results),
              max(len(r.bar) for r in results), 6]
    head = ("id", "what", "figure", "bar", "result")
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print("\n" + line + "\n" + "-" * len(line))
    for r in results:
        print("  ".join(str(v).ljust(w) for v, w in zip((r.id, r.what, r.figure, r.bar, r.verdict), widths)))
    missed = [r for r in results if r.ok is False]
    print()
    others = machine["others_share"]
    print(f"Other processes used {others:.0%} of the {machine['cpus']} CPUs while we measured "
          f"(load average {', '.join(map(str, machine['load_average']))}).")
    if others > 0.15:
        print("WARNING: the machine was busy, so absolute times are inflated. C1 and C2 were measured "
              "interleaved, so load weighs on both sides of their ratios alike.")
    if missed:
        print("MISSED: " + ", ".join(f"{r.id} ({r.figure}; bar {r.bar})" for r in missed))
    else:
        print("All measured bars met.")


def write_json(path: Path, args, results, info, profiles, started) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "when": started.isoformat(timespec="seconds"), "commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version, "platform": platform.platform()},
        "options": {"numbers": args.numbers, "seed": args.seed, "rounds": args.rounds,
                    "warmup": args.warmup, "soak_seconds": args.soak},
        **info,
        "results": [{"id": r.id, "what": r.what, "figure": r.figure, "bar": r.bar, "result": r.verdict,
                     "data": r.data} for r in results],
        "missed": [r.id for r in results if r.ok is False],
        "sql_profile": {p.name: p.as_dict() for p in profiles},
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = datetime.now(timezone.utc)
    ws = Workspace(keep=args.keep)
    server = Gunicorn(ws)
    ds, ds_note = None, "--no-datasette"
    try:
        results, info = prepare(ws, args)
        con = data.connect(ws.db)
        rng = random.Random(args.seed)
        count = con.execute("SELECT count(*) FROM number").fetchone()[0]
        info["numbers_in_database"] = count
        inputs = {"count": count, "b2": data.pick_b2_filter(con), "b3": data.paste_list(con, rng),
                  "b8": data.details_sample(con, rng, 40), "b4": data.inline_edit_target(con),
                  "batch": batches.pick_target(con)}
        if not args.no_datasette:
            _step(f"Datasette {datasette.VERSION} (throwaway venv {datasette.VENV}) …")
            exe, ds_note = datasette.ensure_installed()
            ds = datasette.Datasette(exe, ws.db) if exe else None
        _step(f"gunicorn on 127.0.0.1:{server.port} …")
        server.start()
        if ds is not None:
            ds.start()
        watch = CpuWatch(lambda: server.pids() + ([ds.proc.pid] if ds and ds.proc else []))
        watch.start()
        try:
            http_results, compared = run_http(server, ds, con, args, inputs)
        finally:
            info["machine_during_http"] = watch.stop()
            if ds is not None:
                ds.stop()
            server.stop()
        _step("B7 one flask tick with 5% due, on a backup copy …")
        results += http_results + comparisons(compared, ds_note) + [scheduler_tick.b7_tick(ws, count)]
        _step("SQL profile of B1, B2, B3, B8 (in-process) …")
        profiles = explain.profile(ws.db, explain.default_pages(ws.db, args.seed))
        con.close()
        explain.print_profiles(profiles, plans=args.explain)
        results += profile_rows(profiles)
        print_table(results, info["machine_during_http"])
        write_json(args.output, args, results, info, profiles, started)
        print(f"Wrote {args.output}")
        return 0
    except BenchError as exc:
        print(f"\nbench could not measure: {exc}", file=sys.stderr)
        if server.log_path.exists():
            print(f"last lines of {server.log_path}:\n{server.log_tail(20)}", file=sys.stderr)
        return 2
    finally:
        if ds is not None:
            ds.stop()
        server.stop()
        ws.cleanup()


if __name__ == "__main__":
    sys.exit(main())
