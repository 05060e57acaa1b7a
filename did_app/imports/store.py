"""Web imports on disk: the upload, its state (progress, then the report) and the full report CSV,
under instance/imports/<token>.*.

Files rather than a dict in memory: under gunicorn the next poll may reach another worker than the
one running the import, and every worker on the host reads the same folder.
"""
import json
import os
import re
import secrets
import time
from pathlib import Path

from flask import current_app

TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")
KEEP_SECONDS = 24 * 3600


def folder() -> Path:
    path = Path(current_app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_token() -> str:
    return secrets.token_urlsafe(16)


def valid(token: str) -> bool:
    return bool(TOKEN.match(token or ""))


def _path(token: str, suffix: str) -> Path:
    if not valid(token):
        raise ValueError("bad import token")
    return folder() / f"{token}{suffix}"


def save_upload(token: str, data: bytes) -> None:
    path = _path(token, ".csv")
    path.write_bytes(data)
    _forget_old(path.stat().st_mtime)


def upload(token: str) -> bytes | None:
    path = _path(token, ".csv")
    return path.read_bytes() if path.exists() else None


def write_state(token: str, state: dict) -> None:
    """Replace the state file atomically, so a poll never reads half a file."""
    path = _path(token, ".json")
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def state(token: str) -> dict | None:
    """The stored state; a job whose process is gone is reported as failed (nothing was written,
    because the import is one transaction)."""
    path = _path(token, ".json")
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("state") == "running" and not _alive(data.get("pid")):
        data = {**data, "state": "failed",
                "error": "The import stopped when the server restarted. Nothing was written; run it again."}
    return data


def save_report_csv(token: str, text: str) -> None:
    _path(token, ".report.csv").write_text(text, encoding="utf-8")


def report_csv(token: str) -> Path | None:
    path = _path(token, ".report.csv")
    return path if path.exists() else None


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_old(reference_mtime: float) -> None:
    """Delete files a day older than the upload just written (its mtime is "now" without a clock read)."""
    for path in folder().iterdir():
        try:
            if reference_mtime - path.stat().st_mtime > KEEP_SECONDS:
                path.unlink()
        except FileNotFoundError:
            pass


class Progress:
    """progress(phase, done, total) for the services, written to the state file at most 5 times a second."""

    def __init__(self, token: str, base: dict):
        self.token, self.base, self.last = token, base, 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        tick = time.monotonic()
        if phase != "write" and tick - self.last < 0.2:
            return
        self.last = tick
        write_state(self.token, {**self.base, "state": "running", "phase": phase, "done": done, "total": total})
