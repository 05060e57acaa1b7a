"""`flask db …` without importing Alembic in the web process.

Flask-Migrate imports Alembic and Mako (about 10 MB per process); web workers never migrate, so
the `db` command group loads it only when a `db` command is actually used.
"""
from pathlib import Path

import click
from flask import g
from flask.cli import with_appcontext

from did_app.extensions import db


def init_migrate(app):
    """Attach Flask-Migrate to `app` (idempotent); returns the Migrate instance."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        directory = Path(app.root_path).parent / "migrations"
        Migrate(app, db, render_as_batch=True, directory=str(directory))
    return app.extensions["migrate"].migrate


class LazyDbGroup(click.Group):
    """Stands in for Flask-Migrate's `db` group until one of its commands is asked for.

    It takes the same group options and sets the same `g` values as Flask-Migrate's own group.
    """

    def __init__(self, app):
        super().__init__("db", help="Perform database migrations (Flask-Migrate).", params=[
            click.Option(["-d", "--directory"], default=None, help="Migration script directory"),
            click.Option(["-x", "--x-arg"], multiple=True, help="Additional arguments for env.py")],
            callback=self._remember_options)
        self._app = app

    @staticmethod
    @with_appcontext
    def _remember_options(directory, x_arg):
        g.directory = directory
        g.x_arg = x_arg  # read by Migrate.get_config()

    def _real(self):
        init_migrate(self._app)
        from flask_migrate.cli import db as real_group
        return real_group

    def list_commands(self, ctx):
        return self._real().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._real().get_command(ctx, name)
