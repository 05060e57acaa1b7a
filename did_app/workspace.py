"""The workspace settings row: read helpers and the first-run defaults."""
from flask import g, has_request_context

from did_app.db import db
from did_app.models import Workspace


def current_workspace() -> Workspace:
    """The settings row (a transient default when none exists yet)."""
    if has_request_context() and "workspace" in g:
        return g.workspace
    ws = db.session.scalars(db.select(Workspace).order_by(Workspace.id).limit(1)).first()
    return ws or Workspace(**_column_defaults())


def _column_defaults() -> dict:
    """Every column default of models/workspace.py (their one source), as a new row would get them."""
    values = {}
    for column in Workspace.__table__.columns:
        default = column.default
        if default is None or column.key == "created_at":  # a transient row was never created
            continue
        if default.is_scalar:
            values[column.key] = default.arg
        elif default.is_callable:
            values[column.key] = default.arg(None)  # SQLAlchemy wraps it to take the execution context
    return values


def ensure_workspace(session) -> Workspace:
    """Create the settings row with its defaults if none exists (inside the caller's transaction)."""
    ws = session.scalars(db.select(Workspace).order_by(Workspace.id).limit(1)).first()
    if ws is None:
        ws = Workspace()
        session.add(ws)
        session.flush()
    return ws
