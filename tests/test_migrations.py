"""Migrations: `flask db upgrade` on an empty database builds exactly the models' schema, with the
reference rows, and `downgrade base` undoes it. Runs on SQLite (a tmp file) and, when DATABASE_URL
names PostgreSQL, on a scratch database `did_migr` beside the suite's, so it never touches its tables.
"""
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from did_app import create_app
from did_app.db import db
from did_app.reference import PROOF_TYPES, REJECT_REASONS
from did_app.registration.requirements import SEED_ROWS

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_PG = DATABASE_URL.startswith("postgresql")
SCRATCH_DB = "did_migr"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# A later migration of the usual SQLite kind: batch "copy and move" of a table other rows point at.
PROBE_MIGRATION = '''
from alembic import op
import sqlalchemy as sa

revision = "probe"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("probe", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("user", recreate="always") as batch_op:
        batch_op.drop_column("probe")
'''


@pytest.fixture
def migr_app(tmp_path):
    """An app on an empty database: a tmp SQLite file, or a freshly created PostgreSQL database."""
    if ON_PG:
        url = sa.make_url(DATABASE_URL)
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
                conn.exec_driver_sql(f"CREATE DATABASE {SCRATCH_DB}")
        except sa.exc.ProgrammingError as exc:
            pytest.fail(f"cannot create the scratch database {SCRATCH_DB} ({exc.orig}); "
                        "tests/start_postgres.sh gives the role CREATEDB")
        db_url = url.set(database=SCRATCH_DB).render_as_string(hide_password=False)
    else:
        db_url = f"sqlite:///{tmp_path / 'migr.sqlite3'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": db_url,
                      "SCHEDULER": "off"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if ON_PG:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
        admin.dispose()


def _schema_diff(connection) -> list:
    context = MigrationContext.configure(connection, opts={
        "compare_type": True, "compare_server_default": True, "target_metadata": db.metadata})
    return compare_metadata(context, db.metadata)


def _norm(sql: str) -> str:
    return re.sub(r"\s+", " ", str(sql)).strip()


def _check_constraints(connection) -> dict:
    """{(table, name): SQL text} of the CHECK constraints in the database."""
    inspector = sa.inspect(connection)
    return {(table, ck["name"]): _norm(ck["sqltext"])
            for table in inspector.get_table_names() if table != "alembic_version"
            for ck in inspector.get_check_constraints(table)}


def _model_check_constraints(dialect) -> dict:
    """The same for the models, named and compiled exactly as create_all() would."""
    found = {}
    for table in db.metadata.sorted_tables:
        ddl = str(sa.schema.CreateTable(table).compile(dialect=dialect))
        for name, text in re.findall(r"CONSTRAINT (\w+) CHECK \((.*?)\)(?:,\s*\n|\s*\n\))", ddl):
            found[(table.name, name)] = _norm(text)
    return found


def test_upgrade_builds_the_models_schema(migr_app):
    with migr_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            assert _schema_diff(conn) == []
            in_db = _check_constraints(conn)
            in_models = _model_check_constraints(conn.dialect)
        # autogenerate never compares CHECK constraints (enum values included): compare them here
        assert set(in_db) == set(in_models)
        if not ON_PG:  # PostgreSQL rewrites the expression text, SQLite keeps it verbatim
            assert in_db == in_models


def test_upgrade_inserts_the_reference_rows(migr_app):
    with migr_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            requirements = conn.execute(sa.text(
                "SELECT country, number_type, registration_required, identity_type, address_area,"
                " personal_proofs, business_proofs, address_proofs, version FROM requirement"
                " ORDER BY id")).all()
            proof_types = conn.execute(sa.text(
                "SELECT entity, name, retired FROM proof_type ORDER BY id")).all()
            reasons = conn.execute(sa.text(
                "SELECT text, position, retired, needs_comment FROM reject_reason ORDER BY id")).all()
    keys = ("country", "number_type", "registration_required", "identity_type", "address_area",
            "personal_proofs", "business_proofs", "address_proofs")
    assert [tuple(r[:-1]) for r in requirements] == [tuple(row[k] for k in keys) for row in SEED_ROWS]
    assert {r.version for r in requirements} == {1}
    assert [tuple(r) for r in proof_types] == [
        (entity, name, False) for entity, names in PROOF_TYPES.items() for name in names]
    assert [tuple(r) for r in reasons] == [
        (text, i, False, text.startswith("Other")) for i, text in enumerate(REJECT_REASONS)]
    # the (*, *) fallback that requirement_for() relies on
    assert ("*", "*") in {(r.country, r.number_type) for r in requirements}


def test_upgrade_is_idempotent_and_downgrade_base_removes_everything(migr_app):
    with migr_app.app_context():
        upgrade()
        upgrade()  # `flask db upgrade` runs before every start
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM reject_reason")).scalar() == len(REJECT_REASONS)
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
        upgrade()  # and the round trip works
        with db.engine.connect() as conn:
            assert _schema_diff(conn) == []


@pytest.mark.skipif(ON_PG, reason="SQLite foreign-key pragma handling")
def test_sqlite_foreign_keys_are_back_on_after_upgrade(migr_app):
    with migr_app.app_context():
        upgrade()
        for _ in range(2):  # whichever pooled connection comes back
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.skipif(ON_PG, reason="SQLite foreign-key pragma handling")
def test_sqlite_upgrade_fails_on_a_broken_reference(migr_app):
    with migr_app.app_context():
        upgrade()
        path = db.engine.url.database
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("INSERT INTO address (identity_id, street, city, postal_code, country, created_at, version)"
                " VALUES (999, 'Main St 1', 'Springfield', '12345', 'US', '2026-01-01 00:00:00', 1)")
    raw.commit()
    raw.close()
    # Flask-Migrate turns env.py's RuntimeError into exit status 1
    with migr_app.app_context(), pytest.raises(SystemExit):
        upgrade()


@pytest.mark.skipif(ON_PG, reason="SQLite foreign-key pragma handling")
def test_sqlite_batch_migration_keeps_rows_that_point_at_the_rebuilt_table(migr_app, tmp_path):
    """With foreign keys enforced, dropping the old `user` table during the copy would fail."""
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, directory, ignore=shutil.ignore_patterns("__pycache__"))
    with migr_app.app_context():
        upgrade(directory=str(directory))
        with db.engine.begin() as conn:
            head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            conn.exec_driver_sql(
                "INSERT INTO user (id, email, display_name, role, active, password_hash,"
                " must_change_password, session_version, digest_opt_in, created_at, version)"
                " VALUES (1, 'a@example.com', 'A', 'admin', 1, 'x', 0, 1, 0, '2026-01-01 00:00:00', 1)")
            conn.exec_driver_sql("INSERT INTO api_token (user_id, name, token_hash, prefix, created_at)"
                                 " VALUES (1, 'cli', 'hash', 'pre', '2026-01-01 00:00:00')")
        (directory / "versions" / "9999_probe.py").write_text(PROBE_MIGRATION.format(head=head))
        upgrade(directory=str(directory))
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT probe FROM user").scalar() == 0
            assert conn.exec_driver_sql("SELECT user_id FROM api_token").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
