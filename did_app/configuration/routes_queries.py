"""Route reads: list pages, counts and members of voice and SMS trunks and groups (History: crud.history)."""

import sqlalchemy as sa

from did_app import parsing
from did_app.db import db
from did_app.rules.routes import Space


def number_counts(space: Space, route_ids=None) -> dict[int, int]:
    """Numbers per route id in one grouped query: every route (list pages), or only `route_ids`."""
    col = space.number_column
    where = col.in_([i for i in route_ids if i]) if route_ids is not None else col.is_not(None)
    return dict(db.session.execute(sa.select(col, sa.func.count()).where(where).group_by(col)).all())


def list_routes(space: Space, *, name: str = "", kind: str = "", group: str = ""):
    """(trunks, groups) for a list page: trunks filtered by name (contains), kind and group
    ("none" = in no group), each with its group loaded; groups with their member counts."""
    m = space.model
    query = sa.select(m).where(m.kind == "trunk").order_by(m.name_key)
    if name.strip():
        query = query.where(m.name_key.contains(name.strip().lower(), autoescape=True))
    if kind:
        query = query.where(m.trunk_kind == kind)
    if group == "none":
        query = query.where(m.group_id.is_(None))
    elif (group_id := parsing.query_id(group)) is not None:
        query = query.where(m.group_id == group_id)
    trunks = db.session.scalars(query).all()
    groups = db.session.scalars(sa.select(m).where(m.kind == "group").order_by(m.name_key)).all()
    sizes = dict(db.session.execute(sa.select(m.group_id, sa.func.count()).where(m.group_id.is_not(None))
                                    .group_by(m.group_id)).all())
    return trunks, groups, sizes


def blocked_member_counts(space: Space) -> dict[int, int]:
    """Blocked members per group, in one grouped query (none where trunks can't be blocked)."""
    if not space.blockable:
        return {}
    m = space.model
    return dict(db.session.execute(sa.select(m.group_id, sa.func.count()).where(
        m.group_id.is_not(None), m.blocked.is_(True)).group_by(m.group_id)).all())


def group_choices(space: Space) -> list[tuple[int, str]]:
    m = space.model
    return db.session.execute(sa.select(m.id, m.name).where(m.kind == "group").order_by(m.name_key)).all()


def member_candidates(space: Space, group_id: int | None = None):
    """Every trunk with the name of its current group, for the group form's member list; the
    members of `group_id` come first."""
    m = space.model
    trunks = db.session.scalars(sa.select(m).where(m.kind == "trunk").order_by(m.name_key)).all()
    names = dict(group_choices(space))
    trunks.sort(key=lambda t: group_id is None or t.group_id != group_id)
    return [(t, names.get(t.group_id)) for t in trunks]


def get_route(space: Space, route_id: int, kind: str):
    m = space.model
    return db.session.scalar(sa.select(m).where(m.id == route_id, m.kind == kind))


def members_of(space: Space, group_id: int):
    m = space.model
    return db.session.scalars(sa.select(m).where(m.group_id == group_id, m.kind == "trunk")).all()
