"""How busy the rest of the machine was while we measured (timings on a shared host are noisy)."""
import os


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _process_jiffies(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().decode(errors="replace").rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


class CpuWatch:
    """CPU used by processes other than ours (the harness, gunicorn, datasette) between start and stop."""

    def __init__(self, our_pids):
        self.our_pids = our_pids  # a callable: the pids to count as ours right now
        self._start = None

    def _ours(self) -> dict[int, int]:
        return {pid: _process_jiffies(pid) for pid in {os.getpid(), *self.our_pids()}}

    def start(self) -> None:
        self._start = (_cpu_jiffies(), self._ours())

    def stop(self) -> dict:
        (busy0, total0), ours0 = self._start
        busy1, total1 = _cpu_jiffies()
        ours1 = self._ours()
        ours = sum(j - ours0.get(pid, 0) for pid, j in ours1.items())
        span = max(1, total1 - total0)
        others = max(0, busy1 - busy0 - ours)
        cpus = os.cpu_count() or 1
        return {"cpus": cpus, "others_share": round(others / span, 3), "ours_share": round(ours / span, 3),
                "load_average": [round(x, 2) for x in os.getloadavg()]}
