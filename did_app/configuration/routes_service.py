"""Voice and SMS route writes: trunks, trunk groups, membership and delete protection.

configuration.md §1–§4 and §7. Every public write function is one use case in one
`write_transaction()`, with an audit row per changed object. A broken field rule raises
`RouteInvalid` (all problems at once, each under its field); a refused delete raises
`DeleteRefused`, which names the /numbers filter for the numbers concerned.

Voice trunks and trunk groups share `VoiceRoute`; SMS trunks and groups share `SmsRoute`. The two
spaces behave alike, so every use case takes the `Space` it works in (rules/routes.py); the
per-space names at the bottom (`create_voice_trunk`, `set_sms_order`, …) are the same functions.
"""
import hashlib
from functools import partial

import sqlalchemy as sa

from did_app import audit, clock, parsing
from did_app.db import write_transaction
from did_app.errors import Conflict, DomainError
from did_app.models import ConfigurationProfile, Number, SmsRoute, VoiceRoute
from did_app.rules import status
from did_app.rules.routes import (
    CHOOSE,
    MAX_MEMBERS,
    MEMBERS_CHANGED,
    MOVED,
    SMS,
    VOICE,
    DeleteRefused,
    RouteInvalid,
    Space,
    clean_group,
    clean_order,
    clean_trunk,
    generate_credential,
    try_order,
)

# ---- private helpers inside a transaction --------------------------------------------------------

def _fingerprint(secret: str | None) -> str | None:
    # audit rows show a secret as "changed"; the fingerprint only lets diff() notice a replacement
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None


def _load(session, space: Space, route_id: int, kind: str, version: int | None = None):
    route = session.scalar(sa.select(space.model).where(space.model.id == route_id, space.model.kind == kind)
                           .with_for_update())
    if route is None:
        noun = (space.trunk_label if kind == "trunk" else space.group_label).replace("Trunk", "trunk")
        raise DomainError(f"This {noun} no longer exists.")
    if version is not None and route.version != version:
        raise Conflict("This record was changed by someone else. Your edit was not saved.")
    return route


def _name_taken(session, space: Space, name, own_id: int | None) -> bool:
    if not isinstance(name, str) or not name.strip():
        return False
    return session.scalar(sa.select(space.model.id).where(space.model.name_key == name.strip().lower(),
                                                          space.model.id != (own_id or 0))) is not None


def _check_name_free(session, space: Space, name: str, own_id: int | None) -> None:
    if _name_taken(session, space, name, own_id):
        raise RouteInvalid([("name", space.name_taken)])


def _cleaned(session, space: Space, own_id, values: dict, clean):
    """`clean()`, with a taken name reported together with the other problems."""
    try:
        return clean()
    except RouteInvalid as err:
        if "name" not in dict(err.problems) and _name_taken(session, space, values.get("name"), own_id):
            err.problems.insert(0, ("name", space.name_taken))
            err.message, err.field = space.name_taken, "name"
        raise


def _names(session, space: Space, ids) -> dict[int, str]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return dict(session.execute(sa.select(space.model.id, space.model.name).where(space.model.id.in_(ids))).all())


def _member_lines(session, space: Space, group_id: int) -> list[str]:
    """The group's members in try order, as audit text ("Name · priority 1 · weight 100")."""
    m = space.model
    rows = session.scalars(sa.select(m).where(m.group_id == group_id, m.kind == "trunk")).all()
    return [line["label"] for line in try_order(space, rows)]


def _count_numbers(session, space: Space, route_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Number).where(space.number_column == route_id))


def _recompute(space: Space, route_ids) -> None:
    ids = sorted({i for i in route_ids if i})
    if ids:
        status.recompute(space.number_column.in_(ids))


def _group_for_member(session, space: Space, group_id: int, trunk_id: int | None):
    """Lock the target group and refuse when it already holds the maximum number of trunks."""
    m = space.model
    group = session.scalar(sa.select(m).where(m.id == group_id, m.kind == "group").with_for_update())
    if group is None:
        raise RouteInvalid([("group_id", CHOOSE)])
    members = session.scalar(sa.select(sa.func.count()).select_from(m).where(
        m.group_id == group_id, m.id != (trunk_id or 0)))
    if members >= MAX_MEMBERS:
        raise RouteInvalid([("group_id", space.group_full)])
    return group


def _status_key(session, space: Space, group_id: int) -> tuple:
    """What a group's numbers' status depends on: its members (and, for SMS, which are blocked)."""
    m = space.model
    cols = (m.id, m.blocked) if space.blockable else (m.id,)
    return tuple(session.execute(sa.select(*cols).where(m.group_id == group_id).order_by(m.id)).all())


class _GroupWatch:
    """Audits the groups a change touches (their member lines before and after) and recomputes the
    status of numbers on each group whose membership or blocked members changed."""

    def __init__(self, session, space: Space, actor, group_ids):
        self.session, self.space, self.actor = session, space, actor
        self.before = {}
        for gid in {g for g in group_ids if g}:
            self.before[gid] = (_member_lines(session, space, gid), _status_key(session, space, gid))

    def finish(self, skip_audit=()) -> None:
        self.session.flush()
        names = _names(self.session, self.space, self.before)
        moved = []
        for gid, (lines, key) in self.before.items():
            after = _member_lines(self.session, self.space, gid)
            if gid not in skip_audit and gid in names and after != lines:
                audit.record(self.actor, f"{self.space.group_type}.updated", self.space.group_type, gid,
                             names[gid], before={"members": lines}, after={"members": after})
            if _status_key(self.session, self.space, gid) != key:
                moved.append(gid)
        _recompute(self.space, moved)


def _compact(snapshot: dict) -> dict:
    """A created or deleted object's values without the blank ones."""
    return {k: v for k, v in snapshot.items() if v not in (None, "", [])}


def _flush_named(session, space: Space) -> None:
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:  # a concurrent save took the name after our check
        raise RouteInvalid([("name", space.name_taken)]) from exc


def _trunk_snapshot(session, space: Space, route) -> dict:
    group = _names(session, space, [route.group_id]).get(route.group_id)
    if space is SMS:
        settings = dict(route.settings or {})
        settings["password"] = _fingerprint(settings.get("password"))
        for key in audit.SECRET_PAIR_FIELDS & settings.keys():  # header and query values hold tokens
            settings[key] = [{**p, "value": _fingerprint(p.get("value")) or ""} for p in settings[key] or []]
        return {"name": route.name, "description": route.description, "kind": route.trunk_kind,
                "blocked": route.blocked, "priority": route.priority, "group": group, **settings}
    snap = {c: getattr(route, c) for c in _VOICE_COLUMNS}
    snap.update(group=group, auth_password=_fingerprint(route.auth_password), kind=route.trunk_kind,
                per_minute_rate=str(route.per_minute_rate) if route.per_minute_rate is not None else None)
    return {k: v for k, v in snap.items() if route.trunk_kind == "sip" or k not in _SIP_ONLY}


_VOICE_COLUMNS = ("name", "description", "capacity_limit", "priority", "weight", "cli_format", "cli_prefix",
                  "ringing_timeout", "host", "port", "username", "transport", "codecs", "auth_enabled",
                  "auth_user", "auth_from_user", "auth_from_domain", "media_encryption", "destination")
_SIP_ONLY = {"host", "port", "username", "transport", "codecs", "auth_enabled", "auth_user", "auth_password",
             "auth_from_user", "auth_from_domain", "media_encryption"}


def _group_snapshot(session, space: Space, group) -> dict:
    snap = {"name": group.name, "description": group.description,
            "members": _member_lines(session, space, group.id)}
    if space is VOICE:
        snap["capacity_limit"] = group.capacity_limit
    return snap


def _store(session, space: Space, route, columns: dict, creating: bool) -> None:
    """Write cleaned columns to a new or locked trunk or group and flush (a taken name is refused)."""
    for key, value in columns.items():
        setattr(route, key, value)
    route.name_key = columns["name"].lower()
    if creating:
        session.add(route)
    else:
        route.updated_at = clock.now()
    _flush_named(session, space)


def _record_saved(actor, object_type: str, route, before: dict | None, after: dict, creating: bool) -> None:
    """The audit row of a saved trunk or group: all its values when created, else what changed."""
    if creating:
        audit.record(actor, f"{object_type}.created", object_type, route.id, route.name, after=_compact(after))
        return
    b, a = audit.diff(before, after)
    if a:
        audit.record(actor, f"{object_type}.updated", object_type, route.id, route.name, before=b, after=a)


def _save_trunk(session, space: Space, actor, trunk, columns: dict, creating: bool) -> list[str]:
    """Apply cleaned columns to a trunk (new or locked), move it between groups, audit, recompute."""
    new_group = columns.pop("group_id")
    _check_name_free(session, space, columns["name"], trunk.id)
    if new_group and new_group != trunk.group_id:
        _group_for_member(session, space, new_group, trunk.id)
    old_group = trunk.group_id
    watch = _GroupWatch(session, space, actor, [old_group, new_group])
    before = None if creating else _trunk_snapshot(session, space, trunk)
    notices = []
    if old_group and new_group and old_group != new_group:
        notices.append(MOVED.format(trunk=columns["name"], group=_names(session, space, [old_group])[old_group]))
    blocked_changed = space.blockable and not creating and trunk.blocked != columns.get("blocked")
    _store(session, space, trunk, {**columns, "group_id": new_group}, creating)
    _record_saved(actor, space.trunk_type, trunk, before, _trunk_snapshot(session, space, trunk), creating)
    watch.finish()
    if blocked_changed:
        _recompute(space, [trunk.id])
    return notices


def _save_group(session, space: Space, actor, group, columns: dict, member_ids: list[int],
                creating: bool) -> list[str]:
    """Apply a group's columns and its exact member set; moved trunks leave their old groups."""
    m = space.model
    _check_name_free(session, space, columns["name"], group.id)
    trunks = session.scalars(sa.select(m).where(m.id.in_(member_ids or [0])).with_for_update()).all()
    if len(trunks) != len(member_ids) or any(t.kind != "trunk" for t in trunks):
        raise RouteInvalid([("members", "Choose trunks from the list.")])
    current = [] if creating else session.scalars(
        sa.select(m).where(m.group_id == group.id, m.kind == "trunk").with_for_update()).all()
    before = None if creating else _group_snapshot(session, space, group)
    _store(session, space, group, columns, creating)
    watch = _GroupWatch(session, space, actor, [group.id, *(t.group_id for t in trunks)])
    old_names = _names(session, space, watch.before)
    notices, chosen = [], {t.id for t in trunks}
    for trunk in [*trunks, *(t for t in current if t.id not in chosen)]:
        target = group.id if trunk.id in chosen else None
        if trunk.group_id == target:
            continue
        if trunk.group_id and target:
            notices.append(MOVED.format(trunk=trunk.name, group=old_names[trunk.group_id]))
        _set_trunk_group(session, space, actor, trunk, target, {**old_names, group.id: group.name})
    session.flush()
    _record_saved(actor, space.group_type, group, before, _group_snapshot(session, space, group), creating)
    watch.finish(skip_audit={group.id})  # the group's own row carries its members
    return notices


def _set_trunk_group(session, space: Space, actor, trunk, group_id, group_names: dict) -> None:
    old = trunk.group_id
    trunk.group_id = group_id
    trunk.updated_at = clock.now()
    audit.record(actor, f"{space.trunk_type}.updated", space.trunk_type, trunk.id, trunk.name,
                 before={"group": group_names.get(old)}, after={"group": group_names.get(group_id)})


def _refuse_trunk_delete(session, space: Space, trunk) -> None:
    n = _count_numbers(session, space, trunk.id)
    if n:
        raise DeleteRefused(f"{space.trunk_label} {trunk.name} routes {n} numbers. Move them first.",
                            {space.filter_key: trunk.id})
    if trunk.group_id is None or (space.blockable and trunk.blocked):
        return
    m = space.model
    others = sa.select(sa.func.count()).select_from(m).where(m.group_id == trunk.group_id, m.id != trunk.id)
    others_total = session.scalar(others)
    others_open = session.scalar(others.where(m.blocked.is_(False))) if space.blockable else others_total
    n = _count_numbers(session, space, trunk.group_id)
    if others_open == 0 and n:
        group = session.get(m, trunk.group_id)
        last = "last unblocked trunk" if others_total else "last trunk"
        raise DeleteRefused(f"{space.trunk_label} {trunk.name} is the {last} in group {group.name}, "
                            f"which routes {n} numbers.", {space.filter_key: group.id})


def _refuse_profiles(session, space: Space, route, label: str) -> None:
    # not in §7, but a profile's foreign key would otherwise make the delete fail
    column = (ConfigurationProfile.voice_route_id if space is VOICE else ConfigurationProfile.sms_route_id)
    names = session.scalars(sa.select(ConfigurationProfile.name).where(column == route.id)
                            .order_by(ConfigurationProfile.name)).all()
    if names:
        raise DeleteRefused(f"{label} {route.name} is used by profiles: {', '.join(names)}.")


# ---- trunks ----------------------------------------------------------------------------------------

def create_trunk(space: Space, actor, kind: str, values: dict) -> tuple[VoiceRoute | SmsRoute, list[str]]:
    """Create a trunk of `kind` in `space` (a SIP or PSTN trunk §2, an SMS trunk of one of the four
    kinds §4), optionally in a group (≤ 10 members). SMPP ESME credentials are generated.

    Returns (trunk, notices). Raises RouteInvalid for any broken field rule, including a name
    already used in the space.
    """
    with write_transaction() as session:
        columns = _cleaned(session, space, None, values, lambda: clean_trunk(space, kind, values))
        trunk = space.model(kind="trunk", trunk_kind=kind)
        notices = _save_trunk(session, space, actor, trunk, columns, creating=True)
    return trunk, notices


def update_trunk(space: Space, actor, trunk_id: int, values: dict,
                 version: int | None = None) -> tuple[VoiceRoute | SmsRoute, list[str]]:
    """Edit a trunk; its kind is fixed. Choosing another group moves it ("Moved … from …").

    A blank write-only secret (`auth_password`, the SMPP SMSC `password`) keeps the stored one.
    Moving, blocking or unblocking recomputes the status of the numbers on the trunk and on the
    groups concerned. Raises RouteInvalid, Conflict (stale `version`) or DomainError.
    """
    with write_transaction() as session:
        trunk = _load(session, space, trunk_id, "trunk", version)
        columns = _cleaned(session, space, trunk.id, values,
                           lambda: clean_trunk(space, trunk.trunk_kind, values, trunk))
        notices = _save_trunk(session, space, actor, trunk, columns, creating=False)
    return trunk, notices


def delete_trunk(space: Space, actor, trunk_id: int) -> str:
    """Delete a trunk unless numbers route to it, or it is the last (unblocked) member of a group
    that numbers route to (§7). Returns the deleted name; raises DeleteRefused and changes nothing."""
    with write_transaction() as session:
        trunk = _load(session, space, trunk_id, "trunk")
        if trunk.group_id:
            session.scalar(sa.select(space.model.id).where(space.model.id == trunk.group_id).with_for_update())
        _refuse_trunk_delete(session, space, trunk)
        _refuse_profiles(session, space, trunk, space.trunk_label)
        watch = _GroupWatch(session, space, actor, [trunk.group_id])
        audit.record(actor, f"{space.trunk_type}.deleted", space.trunk_type, trunk.id, trunk.name,
                     before=_trunk_snapshot(session, space, trunk))
        name = trunk.name
        session.delete(trunk)
        watch.finish()
    return name


def regenerate_sms_credentials(actor, trunk_id: int) -> SmsRoute:
    """New system ID (16) and password (8) for an SMPP ESME trunk; the old ones stop working."""
    with write_transaction() as session:
        trunk = _load(session, SMS, trunk_id, "trunk")
        if trunk.trunk_kind != "smpp_esme":
            raise DomainError("Only SMPP (ESME) trunks have generated credentials.")
        settings = dict(trunk.settings or {})
        before = {"system_id": settings.get("system_id"), "password": _fingerprint(settings.get("password"))}
        settings.update(system_id=generate_credential(16), password=generate_credential(8))
        trunk.settings = settings
        trunk.updated_at = clock.now()
        audit.record(actor, "sms_trunk.credentials_regenerated", "sms_trunk", trunk.id, trunk.name,
                     before=before, after={"system_id": settings["system_id"],
                                           "password": _fingerprint(settings["password"])})
    return trunk


# ---- groups ----------------------------------------------------------------------------------------

def create_group(space: Space, actor, values: dict, member_ids) -> tuple[VoiceRoute | SmsRoute, list[str]]:
    """Create a group with 0–10 member trunks (§3, §4). A member taken from another group is
    moved, with a notice. Returns (group, notices); raises RouteInvalid."""
    with write_transaction() as session:
        columns, members = _cleaned(session, space, None, values, lambda: clean_group(space, values, member_ids))
        group = space.model(kind="group")
        notices = _save_group(session, space, actor, group, columns, members, creating=True)
    return group, notices


def update_group(space: Space, actor, group_id: int, values: dict, member_ids,
                 version: int | None = None) -> tuple[VoiceRoute | SmsRoute, list[str]]:
    """Edit a group and set its exact member set (≤ 10). Trunks left out are detached; numbers
    routed to this group and to groups that lost a trunk get their status recomputed.
    Raises RouteInvalid, Conflict or DomainError."""
    with write_transaction() as session:
        group = _load(session, space, group_id, "group", version)
        columns, members = _cleaned(session, space, group_id, values, lambda: clean_group(space, values, member_ids))
        notices = _save_group(session, space, actor, group, columns, members, creating=False)
    return group, notices


def set_order(space: Space, actor, group_id: int, orders: dict, versions: dict | None = None):
    """Write the priority (and, for voice, the weight) of the group's members from the group page.

    `orders` maps trunk id → (priority, weight), or → priority for SMS (lower is tried first);
    `versions` trunk id → the version the page showed. Raises RouteInvalid with fields
    "priority-<id>" / "weight-<id>", DomainError for a trunk that is not a member or a missing
    version, Conflict when a member changed since the page was rendered.
    """
    clean = clean_order(space, orders)
    m = space.model
    with write_transaction() as session:
        group = _load(session, space, group_id, "group")
        members = {t.id: t for t in session.scalars(
            sa.select(m).where(m.group_id == group_id).with_for_update())}
        if set(clean) - set(members):
            raise DomainError(MEMBERS_CHANGED)
        if versions is not None:  # None: callers without a rendered page (CLI, tests)
            if any(versions.get(tid) is None for tid in clean):
                raise DomainError(parsing.VERSION_MESSAGE)
            if any(members[tid].version != versions[tid] for tid in clean):
                raise Conflict("A member of this group was changed by someone else meanwhile; "
                               "the table now shows the current values.")
        watch = _GroupWatch(session, space, actor, [group_id])
        for trunk_id, (priority, weight) in clean.items():
            _set_member_order(space, actor, members[trunk_id], priority, weight)
        watch.finish()
    return group


def _set_member_order(space: Space, actor, trunk, priority: int, weight: int | None) -> None:
    before = {"priority": trunk.priority, **({"weight": trunk.weight} if space.weighted else {})}
    after = {"priority": priority, **({"weight": weight} if space.weighted else {})}
    b, a = audit.diff(before, after)
    if a:
        for key, value in a.items():
            setattr(trunk, key, value)
        trunk.updated_at = clock.now()
        audit.record(actor, f"{space.trunk_type}.updated", space.trunk_type, trunk.id, trunk.name,
                     before=b, after=a)


def delete_group(space: Space, actor, group_id: int) -> str:
    """Delete a group unless numbers route to it (§7); its members are detached, not deleted."""
    m = space.model
    with write_transaction() as session:
        group = _load(session, space, group_id, "group")
        n = _count_numbers(session, space, group.id)
        if n:
            raise DeleteRefused(f"{space.group_label} {group.name} routes {n} numbers. Move them first.",
                                {space.filter_key: group.id})
        _refuse_profiles(session, space, group, space.group_label)
        members = session.scalars(sa.select(m).where(m.group_id == group.id).with_for_update()).all()
        audit.record(actor, f"{space.group_type}.deleted", space.group_type, group.id, group.name,
                     before=_group_snapshot(session, space, group))
        for trunk in members:
            _set_trunk_group(session, space, actor, trunk, None, {group.id: group.name})
        session.flush()
        name = group.name
        session.delete(group)
    return name


# ---- the same use cases named per space, for callers that know theirs (CLI, demo, tests) ----------

create_voice_trunk = partial(create_trunk, VOICE)
update_voice_trunk = partial(update_trunk, VOICE)
delete_voice_trunk = partial(delete_trunk, VOICE)
create_trunk_group = partial(create_group, VOICE)
update_trunk_group = partial(update_group, VOICE)
set_trunk_order = partial(set_order, VOICE)
delete_trunk_group = partial(delete_group, VOICE)
create_sms_trunk = partial(create_trunk, SMS)
update_sms_trunk = partial(update_trunk, SMS)
delete_sms_trunk = partial(delete_trunk, SMS)
create_sms_group = partial(create_group, SMS)
update_sms_group = partial(update_group, SMS)
set_sms_order = partial(set_order, SMS)
delete_sms_group = partial(delete_group, SMS)
