"""Database base class, types, SQLite hooks and the one write-transaction helper."""
from contextlib import contextmanager
from datetime import datetime, timezone

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.exc import StaleDataError

from did_app.errors import Conflict

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes: naive UTC on SQLite, timestamptz on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use clock.now() or an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def portable_enum(*values: str, name: str) -> sa.Enum:
    """A VARCHAR enum with a named CHECK, identical on SQLite and PostgreSQL."""
    return sa.Enum(*values, name=name, length=32, native_enum=False, create_constraint=True)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # SQLAlchemy must emit BEGIN itself so the begin hook can choose IMMEDIATE
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        # cache_size: 1 MiB per connection (default 2); 2 workers × 4 threads keep up to 8 open
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=15000",
                       "foreign_keys=ON", "cache_size=-1024"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name != "sqlite":
        return
    # a deferred BEGIN that later writes can fail with "database is locked" whatever the timeout
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction():
    """One use case, one transaction; on SQLite it starts with BEGIN IMMEDIATE.

    Yields the session. Commits on success, rolls back on any error. A stale version
    (StaleDataError) becomes Conflict. Refuses to nest.
    """

    session = db.session()
    if session.info.get("in_write_transaction"):
        raise RuntimeError("write_transaction() does not nest")
    if session.in_transaction():
        session.rollback()  # drop the view's read snapshot; objects reload under the lock
    session.info["in_write_transaction"] = True
    try:
        session.connection(execution_options={"sqlite_immediate": True})
        yield session
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise Conflict("This record was changed by someone else. Your edit was not saved.") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop("in_write_transaction", None)


def insert_for(model):
    """The dialect's INSERT for `model`, supporting on_conflict_do_nothing()."""
    name = db.session.get_bind().dialect.name
    # imported here: the PostgreSQL dialect costs each SQLite worker about 2 MB for nothing
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def newest_first_page(model, conds: list, page: int, per_page: int) -> tuple[list, bool]:
    """Page `page` of the `model` rows matching `conds`, newest first by (at, id); the flag says
    whether an older page exists (audit history, the ledger)."""
    rows = db.session.scalars(sa.select(model).where(*conds)
                              .order_by(model.at.desc(), model.id.desc())
                              .offset((page - 1) * per_page).limit(per_page + 1)).all()
    return rows[:per_page], len(rows) > per_page


def keyset_stream(model, conds: list, batch: int = 1000):
    """Every `model` row matching `conds`, newest first by (at, id), read in keyset pages so a
    CSV export of any size holds one page in memory (audit history, the ledger)."""
    last = None
    while True:
        stmt = sa.select(model).where(*conds)
        if last is not None:
            stmt = stmt.where(sa.tuple_(model.at, model.id) < sa.tuple_(*last))
        rows = db.session.scalars(stmt.order_by(model.at.desc(), model.id.desc()).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = (rows[-1].at, rows[-1].id)
        db.session.expunge_all()


def chunked(items, size: int = 900):
    """Yield lists of at most `size` items: every statement that lists ids takes 900."""
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
