"""Portable SQL pieces for set-based batches: JSON built and read inside INSERT … SELECT and
UPDATE … FROM, and typed parameters PostgreSQL can place in a SELECT list.

SQLite spells them json_object / json_extract / json_remove; PostgreSQL json_build_object / ->> /
jsonb minus a key array. Keys are identifiers written in code, never user input.
"""
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement


class json_object(ColumnElement):  # noqa: N801 (reads like the SQL function it renders)
    """A JSON object from (key, SQL value) pairs."""
    type = sa.JSON()
    inherit_cache = False

    def __init__(self, pairs):
        self.pairs = list(pairs)


class json_pick(ColumnElement):  # noqa: N801
    """A JSON object of the (key, value, keep) triples whose `keep` condition holds."""
    type = sa.JSON()
    inherit_cache = False

    def __init__(self, triples):
        self.triples = list(triples)


class json_get(ColumnElement):  # noqa: N801
    """The scalar under `key` of a JSON column, typed as `type_` (Integer or String)."""
    inherit_cache = False

    def __init__(self, column, key: str, type_):
        self.column, self.key, self.type = column, key, type_


class typed(ColumnElement):  # noqa: N801
    """A bound value with its SQL type: PostgreSQL can't guess the type of a bare parameter in a
    SELECT list or a JSON builder; a cast on SQLite would change its affinity, so none there."""
    inherit_cache = False

    def __init__(self, value, type_):
        self.type = type_
        self.bind = sa.literal(value, type_)


def _key(key: str) -> str:
    if not key.replace("_", "").isalnum():
        raise ValueError(f"not a JSON key of ours: {key!r}")
    return key


def _args(compiler, pairs, **kw) -> str:
    return ", ".join(f"'{_key(k)}', {compiler.process(v, **kw)}" for k, v in pairs)


@compiles(json_object)
def _object_sqlite(element, compiler, **kw):
    return f"json_object({_args(compiler, element.pairs, **kw)})"


@compiles(json_object, "postgresql")
def _object_pg(element, compiler, **kw):
    return f"json_build_object({_args(compiler, element.pairs, **kw)})"


@compiles(json_pick)
def _pick_sqlite(element, compiler, **kw):
    whole = _object_sqlite(json_object((k, v) for k, v, _ in element.triples), compiler, **kw)
    # removing a path that does not exist changes nothing: kept keys name a missing one
    paths = ", ".join(f"CASE WHEN {compiler.process(keep, **kw)} THEN '$.__kept' ELSE '$.{_key(k)}' END"
                      for k, _, keep in element.triples)
    return f"json_remove({whole}, {paths})"


@compiles(json_pick, "postgresql")
def _pick_pg(element, compiler, **kw):
    whole = _object_pg(json_object((k, v) for k, v, _ in element.triples), compiler, **kw)
    drops = ", ".join(f"CASE WHEN {compiler.process(keep, **kw)} THEN '__kept' ELSE '{_key(k)}' END"
                      for k, _, keep in element.triples)
    return f"(({whole})::jsonb - ARRAY[{drops}]::text[])::json"


@compiles(json_get)
def _get_sqlite(element, compiler, **kw):
    return f"json_extract({compiler.process(element.column, **kw)}, '$.{_key(element.key)}')"


@compiles(json_get, "postgresql")
def _get_pg(element, compiler, **kw):
    text = f"({compiler.process(element.column, **kw)} ->> '{_key(element.key)}')"
    if isinstance(element.type, sa.Integer):
        return f"CAST({text} AS BIGINT)"
    if isinstance(element.type, sa.Boolean):
        return f"CAST({text} AS BOOLEAN)"
    if isinstance(element.type, sa.DateTime):
        return f"CAST({text} AS TIMESTAMP WITH TIME ZONE)"
    return text


@compiles(typed)
def _typed_sqlite(element, compiler, **kw):
    return compiler.process(element.bind, **kw)


@compiles(typed, "postgresql")
def _typed_pg(element, compiler, **kw):
    return compiler.process(sa.cast(element.bind, element.type), **kw)


def differs(a, b):
    """a and b differ, NULLs included (IS DISTINCT FROM; IS NOT on SQLite)."""
    return a.is_distinct_from(b)
