"""Percentiles and the bounded timing loop every measurement uses."""
import math
import statistics
import time
from dataclasses import dataclass, field


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 40 samples is the 38th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50": round(statistics.median(ms), 2), "p95": round(percentile(ms, 95), 2),
            "min": round(min(ms), 2), "max": round(max(ms), 2), "mean": round(statistics.fmean(ms), 2)}


def timed_rounds(fn, rounds: int, warmup: int, budget_s: float = 120) -> list[float]:
    """Call fn (which returns seconds) `warmup` times untimed, then up to `rounds` times within budget."""
    deadline = time.monotonic() + budget_s
    for _ in range(warmup):
        if time.monotonic() > deadline:
            break
        fn()
    samples = []
    for _ in range(rounds):
        if time.monotonic() > deadline:
            break
        samples.append(fn())
    return samples


@dataclass
class Result:
    id: str
    what: str
    figure: str
    bar: str
    ok: bool | None  # None: reported only, or not measured
    data: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "MISSED", None: "-"}[self.ok]
