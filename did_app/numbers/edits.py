"""Editing a number's configuration: inline cells, the details page and readiness fixes.

One service, `update_number`, takes any subset of the editable fields (numbers.md §1 "ops"),
checks every rule of numbers.md §7.2 and configuration.md §6 with its exact message, writes the
change with one history row, and recomputes the stored status in the same transaction.
"""
import re

import sqlalchemy as sa

from did_app import audit, clock, filters
from did_app.db import db, write_transaction
from did_app.errors import Conflict, DomainError
from did_app.lifecycle import forecast
from did_app.models import (
    CapacityGroup,
    CapacityPool,
    CapacityPoolCountry,
    ConfigurationProfile,
    Number,
    SmsRoute,
    User,
    VoiceRoute,
)
from did_app.models.numbers import SWITCHABLE_MODES
from did_app.rules import capacity as capacity_rules
from did_app.rules import status

EDITABLE = ("description", "voice_route_id", "sms_route_id", "capacity_limit", "billing_cycles_count",
            "capacity_group_id", "dedicated_channels", "capacity_pool_id", "next_capacity_mode",
            "next_monthly_price_minor")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LIMIT_MESSAGE = "Enter a whole number from 1 to 32,767, or leave blank for no limit."
CYCLES_MESSAGE = "Enter a whole number of renewals from 1 to 999."
# next_monthly_price_minor=KEEP_PRICE: a one-click mode switch renews at today's price
KEEP_PRICE = "keep the current price"


def clean_description(text: str | None) -> str | None:
    """Trim, drop control characters; empty becomes None (numbers.md §1)."""
    text = _CONTROL.sub("", text or "").strip()
    if len(text) > 255:
        raise DomainError("Description must be at most 255 characters.", "description")
    return text or None


def conflict_message(number: Number) -> str:
    """ "Changed by {user} at {time}. Your edit was not saved." """

    user = db.session.get(User, number.updated_by) if number.updated_by else None
    who = user.display_name if user else "the system"
    when = filters.fmt_datetime(number.updated_at or number.created_at)
    return f"Changed by {who} at {when}. Your edit was not saved."


def _check_routes(number: Number, changes: dict) -> None:
    if changes.get("voice_route_id") is not None:
        if not number.has_feature("voice_in"):
            raise DomainError("This number does not support inbound voice.", "voice_route_id")
        if db.session.get(VoiceRoute, changes["voice_route_id"]) is None:
            raise DomainError("That voice route no longer exists.", "voice_route_id")
    if changes.get("sms_route_id") is not None:
        if not number.has_feature("sms_in"):
            raise DomainError("This number does not support inbound SMS.", "sms_route_id")
        if db.session.get(SmsRoute, changes["sms_route_id"]) is None:
            raise DomainError("That SMS route no longer exists.", "sms_route_id")


def _check_limits(number: Number, changes: dict) -> None:
    limit = changes.get("capacity_limit")
    if limit is not None and not 1 <= limit <= 32767:
        raise DomainError(LIMIT_MESSAGE, "capacity_limit")
    if "billing_cycles_count" in changes:
        if number.cancelled_at is not None:
            raise DomainError("Cancelled numbers can't change renewal. Restore first.", "billing_cycles_count")
        if number.expired_at is not None:
            raise DomainError("Expired numbers can't change renewal. Renew first.", "billing_cycles_count")
        cycles = changes["billing_cycles_count"]
        if cycles is not None and not 0 <= cycles <= 999:
            raise DomainError(CYCLES_MESSAGE, "billing_cycles_count")


def _apply_defaults(number: Number, changes: dict) -> None:
    if changes.get("dedicated_channels") == 0:
        changes.pop("capacity_pool_id", None)  # no channels held: a pool chosen with them is moot
    if changes.get("next_monthly_price_minor") == KEEP_PRICE:
        changes["next_monthly_price_minor"] = number.monthly_price_minor


def _check_capacity(number: Number, changes: dict) -> None:
    group_id = changes.get("capacity_group_id")
    if group_id is not None and group_id != number.capacity_group_id:
        group = db.session.get(CapacityGroup, group_id)
        if group is None:
            raise DomainError("That capacity group no longer exists.", "capacity_group_id")
        refusal = capacity_rules.join_group_refusal(number, group)
        if refusal:
            raise DomainError(refusal, "capacity_group_id")
    pool_id = changes.get("capacity_pool_id")
    if pool_id is not None and db.session.get(CapacityPool, pool_id) is None:
        raise DomainError("That capacity pool no longer exists.", "capacity_pool_id")
    if "capacity_pool_id" in changes and "dedicated_channels" not in changes:
        # a pool alone moves the channels the number holds: the same checks as a new count
        if pool_id is None and number.dedicated_channels:
            raise DomainError("Choose the pool the channels come from.", "capacity_pool_id")
        changes["dedicated_channels"] = number.dedicated_channels
    if "dedicated_channels" in changes:
        count = changes["dedicated_channels"]
        if count is None or not 0 <= count <= 32767:
            raise DomainError("Enter a whole number of channels from 0 to 32,767.", "dedicated_channels")
        if count == 0:
            changes["capacity_pool_id"] = None  # releasing the channels clears the pool
        else:
            # locked, so two edits can't both take the pool's last free channels (PostgreSQL)
            pool = db.session.get(CapacityPool, changes.get("capacity_pool_id") or number.capacity_pool_id or 0,
                                  with_for_update=True)
            if pool is None:
                raise DomainError("Choose the pool the channels come from.", "capacity_pool_id")
            refusal = capacity_rules.dedicated_refusal(number, pool, count)
            if refusal:
                raise DomainError(refusal, "dedicated_channels")
            changes["capacity_pool_id"] = pool.id
    if "next_capacity_mode" in changes:
        mode = changes["next_capacity_mode"]
        if mode is not None and mode not in SWITCHABLE_MODES:
            raise DomainError("Choose 2 included or 0 included.", "next_capacity_mode")
        if mode is not None and not number.mode_can_switch:
            raise DomainError("The capacity mode of this number cannot change.", "next_capacity_mode")
        if mode is None:
            changes["next_monthly_price_minor"] = None
        elif changes.get("next_monthly_price_minor") is None:
            raise DomainError("Enter the monthly price from the next renewal.", "next_monthly_price_minor")


RENEWAL_FIELDS = {"billing_cycles_count", "next_capacity_mode", "next_monthly_price_minor"}


def update_number(actor, number_id: int, version: int, **changes) -> tuple[Number, dict]:
    """Change any of the editable fields of one number (admin, operator).

    Rules: numbers.md §7.2 and configuration.md §6, with their messages (DomainError naming the
    field). A new capacity mode with the price KEEP_PRICE renews at the current monthly price; a pool
    given with 0 dedicated channels is dropped (releasing the channels clears the pool). A stale
    `version` raises Conflict with "Changed by {user} at {time}…". Writes one
    `number.updated` history row with only the changed fields and recomputes the stored status.
    Returns (number, {field: (before, after)}); nothing is written when nothing changes.
    """

    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if "description" in changes:
        changes["description"] = clean_description(changes["description"])
    with write_transaction() as session:
        number = session.get(Number, number_id)
        if number is None:
            raise DomainError("This number is no longer in the inventory.")
        if number.version != version:
            raise Conflict(conflict_message(number))
        _apply_defaults(number, changes)
        _check_routes(number, changes)
        _check_limits(number, changes)
        _check_capacity(number, changes)
        before = {k: getattr(number, k) for k in changes}
        old, new = audit.diff(before, changes)
        if not new:
            return number, {}
        for key, value in new.items():
            setattr(number, key, value)
        number.updated_at, number.updated_by = clock.now(), actor.user_id
        session.flush()  # bumps version (ORM version counter) and catches a concurrent save
        status.recompute_one(number.id)
        if RENEWAL_FIELDS.intersection(new):  # what renews, and for how much, moved the cutoff
            forecast.recompute_cutoff(session)
        audit.record(actor, "number.updated", "number", number.id, number.number,
                     before=_labelled(old), after=_labelled(new))
    return number, {k: (old[k], new[k]) for k in new}


def _labelled(values: dict) -> dict:
    """History shows names, not ids: voice_route_id 7 → voice_route "sip-main"."""
    out = {}
    for key, value in values.items():
        model = {"voice_route_id": VoiceRoute, "sms_route_id": SmsRoute, "capacity_group_id": CapacityGroup,
                 "capacity_pool_id": CapacityPool}.get(key)
        if model is not None:
            row = db.session.get(model, value) if value is not None else None
            out[key.removesuffix("_id")] = row.name if row else None
        else:
            out[key] = value
    return out


def route_choices(model) -> dict[str, list]:
    """Every route of one kind for a select: {"Trunks": [...], "Trunk groups": [...]}."""
    rows = db.session.execute(sa.select(model.id, model.name, model.kind, *(
        [model.blocked] if model is SmsRoute else [])).order_by(model.name)).all()
    return {"trunk": [r for r in rows if r.kind == "trunk"], "group": [r for r in rows if r.kind == "group"]}


def capacity_options(number: Number) -> dict:
    """What the details page offers this number: groups it may join, pools with free channels."""

    groups = db.session.scalars(sa.select(CapacityGroup).join(
        CapacityPoolCountry, CapacityPoolCountry.pool_id == CapacityGroup.pool_id).where(
        CapacityPoolCountry.country == number.country).order_by(CapacityGroup.name)).all()
    pools = db.session.scalars(sa.select(CapacityPool).join(
        CapacityPoolCountry, CapacityPoolCountry.pool_id == CapacityPool.id).where(
        CapacityPoolCountry.country == number.country).order_by(CapacityPool.name)).all()
    with_free = [(pool, capacity_rules.unassigned_channels(pool)) for pool in pools]
    profiles = db.session.scalars(sa.select(ConfigurationProfile).order_by(ConfigurationProfile.name)).all()
    return {"groups": groups, "pools": with_free, "free_pools": [(p, f) for p, f in with_free if f > 0],
            "voice": route_choices(VoiceRoute), "sms": route_choices(SmsRoute), "profiles": profiles}
