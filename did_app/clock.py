"""The only code that reads the wall clock.

Everything else calls `clock.now()`, so tests (and `flask tick --at`) can move time.
"""
from datetime import datetime, timedelta, timezone

from flask import current_app, has_app_context


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FakeClock:
    """A settable clock for tests and `flask tick --at`."""

    def __init__(self, at: datetime):
        self.at = at.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at.astimezone(timezone.utc)

    def advance(self, **delta) -> datetime:
        self.at = self.at + timedelta(**delta)
        return self.at


_system = SystemClock()


def now() -> datetime:
    """Aware UTC now, from the app's installed clock."""
    if has_app_context():
        return current_app.extensions.get("clock", _system).now()
    return _system.now()
