"""Give freed heap back to the OS when a worker goes idle (glibc keeps it otherwise).

A worker's heap grows with request bursts (a table page builds thousands of small objects) and
glibc returns little of it by itself. One daemon thread per worker, started by the first request,
calls `malloc_trim(0)` about a second after the worker's last request finished, off the request
path, so resident memory falls back to the working set between bursts. A no-op off glibc and
under tests.
"""
import ctypes
import threading
import time

IDLE_DELAY_S = 1.0


def _load_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_trim = _load_trim()


def give_back() -> None:
    if _trim is not None:
        _trim(0)


class IdleTrimmer:
    def __init__(self, delay: float = IDLE_DELAY_S):
        self.delay = delay
        self._lock = threading.Lock()
        self._in_flight = 0
        self._dirty = False
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._dirty = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="idle-trim", daemon=True)
                self._thread.start()

    def request_finished(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if self._in_flight == 0:
                self._idle.set()

    def _run(self) -> None:
        while True:
            self._idle.wait()
            self._idle.clear()
            time.sleep(self.delay)
            with self._lock:
                due = self._in_flight == 0 and self._dirty
                if due:
                    self._dirty = False
            if due:
                give_back()


def install(app) -> None:
    """Trim after idle periods in served processes (not under tests, nothing at import)."""
    if _trim is None or app.testing:
        return
    trimmer = IdleTrimmer()

    from flask import g

    @app.before_request
    def _started():
        g.trim_counted = True
        trimmer.request_started()

    @app.teardown_request
    def _finished(exc):
        if g.pop("trim_counted", False):  # an earlier before_request may have answered first
            trimmer.request_finished()
