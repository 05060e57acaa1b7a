"""Who may take which capacity (configuration.md §5–§6): checks shared by number edits, profiles
and the capacity pages. Pure reads; they never write."""
import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

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


def assigned_by_pool() -> dict[int, int]:
    """assigned_channels() for every pool at once (two grouped queries), for list pages."""
    totals: dict[int, int] = {}
    for stmt in (sa.select(Number.capacity_pool_id, sa.func.sum(Number.dedicated_channels))
                 .where(Number.capacity_pool_id.is_not(None)).group_by(Number.capacity_pool_id),
                 sa.select(CapacityGroup.pool_id, sa.func.sum(CapacityGroup.shared_channels))
                 .group_by(CapacityGroup.pool_id)):
        for pool_id, channels in db.session.execute(stmt):
            totals[pool_id] = totals.get(pool_id, 0) + int(channels or 0)
    return totals


def shared_refusal(pool: CapacityPool, new_shared: int, current_shared: int = 0) -> str | None:
    """Why a group on `pool` may not hold `new_shared` channels; `current_shared` is what this
    group already holds from that same pool (0 for a new group or one moving pool)."""
    free = unassigned_channels(pool)
    if new_shared > free + current_shared:
        return f"Pool {pool.name} has only {free} unassigned channels."
    return None


def group_channels_refusal(shared: int, metered: int) -> tuple[str, str] | None:
    """(field, message) when shared/metered break §5.2's ranges, or None."""
    if not 0 <= metered <= 1000:
        return "metered_channels", "Metered channels must be 0–1,000."
    if shared < 0:
        return "shared_channels", "Shared channels can't be negative."
    if shared + metered < 1:
        return "shared_channels", "A capacity group needs at least one shared or metered channel."
    return None


def previous_renewal(renew_date: date) -> date:
    """One calendar month before `renew_date`, on the same day or the month's last day."""
    year, month = (renew_date.year, renew_date.month - 1) if renew_date.month > 1 else (renew_date.year - 1, 12)
    return renew_date.replace(year=year, month=month,
                              day=min(renew_date.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ChannelQuote:
    quantity: int
    setup_minor: int
    prorated_minor: int
    days_left: int
    days_in_period: int

    @property
    def total_minor(self) -> int:
        return self.setup_minor + self.prorated_minor


def quote_channels(pool: CapacityPool, quantity: int, today: date) -> ChannelQuote:
    """What adding `quantity` channels costs today (§5.1): qty × setup plus the monthly fee
    prorated to the renew date, rounded half-up to the minor unit. Pure arithmetic."""
    renew = pool.renew_date or today
    period = max(1, (renew - previous_renewal(renew)).days)
    # an overdue renewal leaves nothing to prorate; a renew date beyond one period caps at one
    days_left = min(max((renew - today).days, 0), period)
    prorated = (Decimal(quantity * pool.monthly_price_minor * days_left) / Decimal(period)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP)
    return ChannelQuote(quantity, quantity * pool.setup_price_minor, int(prorated), days_left, period)


def join_group_refusals_sql(group: CapacityGroup, pool: CapacityPool) -> list[tuple]:
    """join_group_refusal() as SQL over `number`, for set-based batches: (condition, message)
    pairs in the same order, with the same messages (the country is the row's)."""
    covers = sa.exists().where(CapacityPoolCountry.pool_id == group.pool_id,
                               CapacityPoolCountry.country == Number.country)
    not_covered = (sa.literal(f"Capacity group {group.name} uses pool {pool.name}, which does not cover ",
                              sa.String()) + Number.country + sa.literal(".", sa.String()))
    return [(Number.allow_additional_channels.is_(False), "This number cannot take additional channels."),
            (sa.not_(covers), not_covered)]


def dedicated_refusals_sql(pool: CapacityPool) -> list[tuple]:
    """dedicated_refusal()'s per-number checks as SQL over `number` (the pool's free channels are
    a check on the whole batch): (condition, message) pairs in the same order and words."""
    covers = sa.exists().where(CapacityPoolCountry.pool_id == pool.id, CapacityPoolCountry.country == Number.country)
    not_covered = sa.literal(f"Pool {pool.name} does not cover ", sa.String()) + Number.country + sa.literal(
        ".", sa.String())
    return [(Number.allow_additional_channels.is_(False), "This number cannot take additional channels."),
            (sa.not_(covers), not_covered)]
