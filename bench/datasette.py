"""Optional comparison with Datasette 0.65.5, installed into a throwaway venv under /tmp.

Datasette is never a dependency of the project: if it cannot be installed, the row says
"not measured".
"""
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.client import Client
from bench.server import BenchError, free_port

VERSION = "0.65.5"
VENV = Path("/tmp/did-bench-datasette-venv")


def ensure_installed(timeout: float = 300) -> tuple[Path | None, str]:
    """The datasette executable (reused when the venv already holds this version), or a reason."""
    exe = VENV / "bin" / "datasette"
    if exe.exists():
        try:
            out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
            if VERSION in out.stdout:
                return exe, "reused"
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", f"datasette=={VERSION}"],
                       check=True, capture_output=True, text=True, timeout=timeout)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["failed"]
        return None, f"install failed: {tail[0]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"install failed: {exc}"
    return (exe, "installed") if exe.exists() else (None, "install produced no datasette")


class Datasette:
    """`datasette serve` on the bench database, queried for the page the bar names."""

    def __init__(self, exe: Path, db: Path):
        self.exe, self.db = exe, db
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.client: Client | None = None
        # 50 rows sorted by expiry, rows without one left out as My Numbers pages them last
        self.path = f"/{db.stem}/number?_sort=expires_at&expires_at__notnull=1&_facet=status&_size=50"

    def start(self, timeout: float = 30) -> None:
        # suggested facets off: only the work the bar names (page, sort, one facet, the row count)
        cmd = [str(self.exe), "serve", str(self.db), "-h", "127.0.0.1", "-p", str(self.port),
               "--setting", "suggest_facets", "off", "--setting", "sql_time_limit_ms", "5000"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/versions.json", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise BenchError("datasette did not start") from None
                time.sleep(0.2)
        self.client = Client(self.port)
        self.once()

    def once(self) -> float:
        resp = self.client.get(self.path)
        if resp.status != 200 or b"<table" not in resp.body:
            raise BenchError(f"datasette answered {resp.status} for {self.path}")
        return resp.seconds

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
