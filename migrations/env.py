"""Alembic environment for did-app (Flask-Migrate): `flask --app app db upgrade`.

On SQLite the whole upgrade runs in one transaction with foreign keys off (batch "copy and move"
breaks while they are enforced); before it commits, `PRAGMA foreign_key_check` must return no
rows, or the upgrade fails and nothing is applied. Migrations never import app code.
"""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config

# tests run migrations inside the pytest process: leave its logging alone there
if config.config_file_name is not None and not current_app.testing:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def get_engine():
    return target_db.engine


config.set_main_option(
    "sqlalchemy.url", get_engine().url.render_as_string(hide_password=False).replace("%", "%%"))


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Emit SQL to stdout (`flask db upgrade --sql`) instead of running it."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=get_metadata(),
                      literal_binds=True, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _prevent_empty_autogenerate(context_, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def _check_foreign_keys(connection) -> None:
    """Fail the upgrade (inside its transaction) when a row points at nothing."""
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if rows:
        shown = ", ".join(f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in rows[:10])
        raise RuntimeError(f"PRAGMA foreign_key_check found {len(rows)} broken reference(s): {shown}")


def run_migrations_online():
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", _prevent_empty_autogenerate)
    conf_args.setdefault("render_as_batch", True)
    conf_args.setdefault("compare_type", True)

    with get_engine().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # On the driver connection, before anything begins: did_app/db.py's begin hook emits
            # BEGIN itself, and SQLite silently ignores this pragma inside a transaction.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            # our BEGIN hook makes SQLite DDL transactional: run every step in one transaction
            conf_args.setdefault("transactional_ddl", True)
        try:
            context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                if connection.in_transaction():
                    connection.rollback()
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
