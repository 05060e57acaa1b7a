"""The workspace settings row: read helpers and the first-run defaults."""
from flask import g, has_request_context

from did_app.db import db
from did_app.models import Workspace


def current_workspace() -> Workspace:
    """The settings row (a transient default when none exists yet)."""
    if has_request_context() and "workspace" in g:
        return g.workspace
    ws = db.session.scalars(db.select(Workspace).order_by(Workspace.id).limit(1)).first()
    return ws or Workspace(name="My Numbers", currency="USD", time_zone="UTC", default_country="US",
                           warn_days=7, critical_days=1, balance_minor=0, reminder_offsets=[30, 7, 1],
                           forecast_horizon_days=30, registration_deadline_days=30,
                           resubmit_grace_days=7, aging_pool_days=34, restore_window_days=35,
                           undo_window_hours=24, digest_hour=8)


def ensure_workspace(session) -> Workspace:
    """Create the settings row with its defaults if none exists (inside the caller's transaction)."""
    ws = session.scalars(db.select(Workspace).order_by(Workspace.id).limit(1)).first()
    if ws is None:
        ws = Workspace()
        session.add(ws)
        session.flush()
    return ws
