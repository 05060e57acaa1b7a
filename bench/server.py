"""The throwaway workspace: a temp folder, the app's own CLI, and gunicorn as production runs it."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# fixed so that runs are comparable; this key only ever signs cookies of a throwaway database
SECRET_KEY = "did-app-benchmark-secret-key-fixed-for-comparable-runs"
EMAIL = "bench@example.com"
PASSWORD = "Quarter-Tempo-4711"  # 12+ characters and free of the email name, as the rules ask


class BenchError(RuntimeError):
    """The harness could not measure (as opposed to a bar being missed)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Workspace:
    """A temp folder with the SQLite database and the environment every process gets."""

    def __init__(self, keep: bool = False):
        self.dir = Path(tempfile.mkdtemp(prefix="did-bench-"))
        self.db = self.dir / "bench.sqlite3"
        self.keep = keep
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SMTP_"))}
        # MALLOC_ARENA_MAX as `make run` and the README's production command set it
        self.env.update(DATABASE_URL=f"sqlite:///{self.db}", SECRET_KEY=SECRET_KEY, SCHEDULER="off",
                        PYTHONUNBUFFERED="1", MALLOC_ARENA_MAX="2")
        self.env.pop("PROXY_FIX", None)
        self.env.pop("BASE_URL", None)

    def flask(self, *args: str, stdin: str | None = None, timeout: float = 900) -> tuple[float, str]:
        """Run `flask --app app ARGS` in the repo; returns (seconds, stdout) or raises BenchError."""
        cmd = [sys.executable, "-m", "flask", "--app", "app", *args]
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, cwd=REPO, env=self.env, input=stdin, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"flask {' '.join(args)} took longer than {timeout:.0f} s") from exc
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-12:]
            raise BenchError(f"flask {' '.join(args)} exited {done.returncode}:\n  " + "\n  ".join(tail))
        return seconds, done.stdout.strip()

    def cleanup(self) -> None:
        if self.keep:
            print(f"Kept the workspace: {self.dir} (database {self.db})")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """Every live descendant of `pid`, read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kb(path: str, key: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int) -> int:
    return _kb(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split between the processes sharing them."""
    return _kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def _is_our_gunicorn(pid: int, port: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().decode(errors="replace")
    except OSError:
        return False
    return "gunicorn" in cmdline and "app:app" in cmdline


class Gunicorn:
    """`gunicorn --no-control-socket -w 2 -k gthread --threads 4` on a free 127.0.0.1 port."""

    def __init__(self, workspace: Workspace, workers: int = 2, threads: int = 4):
        self.workspace = workspace
        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = workspace.dir / "gunicorn.log"
        self._known: set[int] = set()

    @property
    def command(self) -> list[str]:
        exe = BIN / "gunicorn"
        head = [str(exe)] if exe.exists() else [sys.executable, "-m", "gunicorn"]
        return head + ["--no-control-socket", "-w", str(self.workers), "-k", "gthread",
                       "--threads", str(self.threads), "-b", f"127.0.0.1:{self.port}", "app:app"]

    def start(self, timeout: float = 60) -> None:
        log = open(self.log_path, "wb")
        # own session: a Ctrl-C reaches only the harness, whose finally stops gunicorn cleanly
        env = dict(self.workspace.env)  # the settings of `make run` and the README, nothing more
        self.proc = subprocess.Popen(self.command, cwd=REPO, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as resp:
                    if resp.status == 200 and len(self.pids()) >= 1 + self.workers:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise BenchError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        """The master and all its descendants (workers and anything they started)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        pids = [self.proc.pid, *_children(self.proc.pid)]
        self._known.update(pids)
        return pids

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) for pid in self.pids())

    def memory_by_process(self) -> dict[int, tuple[int, int]]:
        """pid: (RSS kB, PSS kB)."""
        return {pid: (rss_kb(pid), pss_kb(pid)) for pid in self.pids()}

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the master (it stops its workers), then SIGKILL whatever we started that is left."""
        if self.proc is None:
            return
        self.pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for pid in sorted(self._known - {self.proc.pid}):
            if _is_our_gunicorn(pid, self.port):  # a pid may have been reused meanwhile
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.proc = None
