"""Who may take which capacity (configuration.md §5–§6): checks shared by number edits, profiles
and the capacity pages. Pure reads; they never write."""
import sqlalchemy as sa

from did_app.db import db
from did_app.models import CapacityGroup, CapacityPool, CapacityPoolCountry, Number


def pool_covers(pool_id: int, country: str) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(
        CapacityPoolCountry.pool_id == pool_id, CapacityPoolCountry.country == country)))


def assigned_channels(pool_id: int) -> int:
    """Σ dedicated channels of numbers on the pool + Σ shared channels of its groups."""
    dedicated = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Number.dedicated_channels), 0))
                                  .where(Number.capacity_pool_id == pool_id))
    shared = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CapacityGroup.shared_channels), 0))
                               .where(CapacityGroup.pool_id == pool_id))
    return int(dedicated) + int(shared)


def unassigned_channels(pool: CapacityPool) -> int:
    return pool.total_channels - assigned_channels(pool.id)


def join_group_refusal(number: Number, group: CapacityGroup) -> str | None:
    """Why `number` may not join `group`, or None when it may."""
    if not number.allow_additional_channels:
        return "This number cannot take additional channels."
    if not pool_covers(group.pool_id, number.country):
        pool = db.session.get(CapacityPool, group.pool_id)
        return (f"Capacity group {group.name} uses pool {pool.name}, which does not cover "
                f"{number.country}.")
    return None


def dedicated_refusal(number: Number, pool: CapacityPool, new_count: int) -> str | None:
    """Why `number` may not hold `new_count` dedicated channels from `pool`, or None."""
    if new_count == 0:
        return None
    if not number.allow_additional_channels:
        return "This number cannot take additional channels."
    if not pool_covers(pool.id, number.country):
        return f"Pool {pool.name} does not cover {number.country}."
    held = number.dedicated_channels if number.capacity_pool_id == pool.id else 0
    needed = new_count - held
    free = unassigned_channels(pool)
    if needed > free:
        return f"Pool {pool.name} has {free} unassigned channels; {needed} are needed."
    return None
