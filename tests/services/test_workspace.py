"""The workspace settings row and its first-run defaults (issue 8 §5: one source for the defaults)."""
import sqlalchemy as sa

from did_app.db import db
from did_app.models import Workspace
from did_app.workspace import current_workspace, ensure_workspace


def test_the_transient_default_workspace_has_every_default_of_a_new_row(app):
    with app.app_context():
        transient = current_workspace()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Workspace)) == 0
        assert sa.inspect(transient).transient
        stored = ensure_workspace(db.session)
        db.session.commit()
        columns = [c.key for c in Workspace.__table__.columns if c.key not in ("id", "created_at")]
        assert {k: getattr(transient, k) for k in columns} == {k: getattr(stored, k) for k in columns}
        assert transient.reminder_offsets is not stored.reminder_offsets  # a list of its own


def test_a_changed_model_default_reaches_the_transient_workspace(app, monkeypatch):
    monkeypatch.setattr(Workspace.__table__.c.warn_days.default, "arg", 9)
    with app.app_context():
        assert current_workspace().warn_days == 9
