"""The write side of the one CRUD pattern: checks every named, versioned configuration object
shares (capacity pools and groups, profiles, rules; next identities, addresses, proof types,
reject reasons and requirements). Services call them inside their one transaction."""
import sqlalchemy as sa

from did_app.errors import Conflict, DomainError

STALE_MESSAGE = "This record was changed by someone else. Your edit was not saved."


class InUse(DomainError):
    """A refused delete. `numbers_filter` holds the /numbers query arguments that show the numbers
    concerned (None when no filter can express them)."""

    def __init__(self, message: str, numbers_filter: dict | None = None):
        super().__init__(message)
        self.numbers_filter = numbers_filter


def check_version(obj, version: int | None) -> None:
    """Raises Conflict when the edit was rendered from an older `version` of `obj`."""
    if version is not None and obj.version != version:
        raise Conflict(STALE_MESSAGE)


def clean_name(name: str | None) -> str:
    """The trimmed name; raises DomainError (on "name") unless it is 1–100 characters."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise DomainError("Name must be 1–100 characters.", "name")
    return name


def clean_description(description: str | None) -> str | None:
    """The trimmed description or None; raises DomainError (on "description") over 255 characters."""
    description = (description or "").strip() or None
    if description and len(description) > 255:
        raise DomainError("Description must be at most 255 characters.", "description")
    return description


def name_taken(session, model, name: str, own_id: int | None = None) -> bool:
    """True when another row of `model` (not `own_id`) has this name, ignoring case."""
    # the exact name too: SQLite's lower() folds ASCII only, and the unique index is on the exact name
    cond = [sa.or_(model.name == name, sa.func.lower(model.name) == name.lower())]
    if own_id is not None:
        cond.append(model.id != own_id)
    return session.scalar(sa.select(sa.exists().where(*cond)))


def locked(session, model, obj_id: int, version: int | None, *, missing: str, stale: str):
    """The row of `model`, locked for this transaction (FOR UPDATE on PostgreSQL), at the `version`
    the form was rendered with: DomainError(missing) when it is gone, Conflict(stale) when it moved.
    `version` None only for callers that hold no rendered copy (CLI, jobs)."""
    obj = session.get(model, obj_id, with_for_update=True)
    if obj is None:
        raise DomainError(missing)
    if version is not None and obj.version != version:
        raise Conflict(stale)
    return obj


def existing(session, model, obj_id: int, message: str):
    """The row of `model` with this id; raises DomainError(message) when there is none."""
    obj = session.get(model, obj_id)
    if obj is None:
        raise DomainError(message)
    return obj
