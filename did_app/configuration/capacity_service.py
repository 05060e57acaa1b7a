"""Capacity pools and shared capacity groups: the use cases (configuration.md §5, §7).

Every public function is one transaction with its audit rows. Pools are admin-only, which the
views enforce; the rules about channels, countries, money and deletes are enforced here.
"""
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from did_app import audit, clock, money
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.lifecycle import forecast
from did_app.models import (
    CapacityGroup,
    CapacityPool,
    CapacityPoolCountry,
    ConfigurationProfile,
    LedgerEntry,
    Number,
    Workspace,
)
from did_app.object_checks import InUse, check_version, clean_description, clean_name, existing, name_taken
from did_app.rules import capacity as capacity_rules
from did_app.rules import status

MAX_QUANTITY = 100_000  # channels bought or removed at once, as the forms allow


# ---- helpers (no transaction of their own) ------------------------------------------------

def _workspace(session) -> Workspace | None:
    return session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).first()


def local_today(ws: Workspace) -> date:
    """Today in the workspace time zone: the renew date is a local calendar date."""
    return clock.now().astimezone(ZoneInfo(ws.time_zone or "UTC")).date()


def _pool_for_update(session, pool_id: int) -> CapacityPool:
    # the pool row serialises every change to its channels (a no-op on SQLite, where IMMEDIATE does)
    pool = session.scalars(sa.select(CapacityPool).where(CapacityPool.id == pool_id)
                           .with_for_update()).first()
    if pool is None:
        raise DomainError("That capacity pool does not exist.")
    return pool


def _quantity_ok(quantity, lowest: int) -> bool:
    return isinstance(quantity, int) and not isinstance(quantity, bool) and lowest <= quantity <= MAX_QUANTITY


def _pool_values(pool: CapacityPool) -> dict:
    """The audited fields of a pool, JSON-ready."""
    return {"name": pool.name, "countries": pool.country_codes,
            "setup_price_minor": pool.setup_price_minor, "monthly_price_minor": pool.monthly_price_minor,
            "metered_rate": None if pool.metered_rate is None else str(pool.metered_rate),
            "renew_date": pool.renew_date.isoformat() if pool.renew_date else None}


def _group_values(group: CapacityGroup, pool_name: str) -> dict:
    return {"name": group.name, "description": group.description, "pool": pool_name,
            "shared_channels": group.shared_channels, "metered_channels": group.metered_channels}


def _check_pool_fields(countries, setup_price_minor, monthly_price_minor, metered_rate, renew_date):
    if not countries:
        raise DomainError("Choose at least one country.", "countries")
    if setup_price_minor < 0:
        raise DomainError("Prices can't be negative.", "setup_price")
    if monthly_price_minor < 0:
        raise DomainError("Prices can't be negative.", "monthly_price")
    if metered_rate is not None and not Decimal(0) <= metered_rate < Decimal(10) ** 6:
        raise DomainError("Enter a rate from 0 to 999999.999999.", "metered_rate")
    if renew_date is None:
        raise DomainError("Enter the next renewal date.", "renew_date")


def _debit(session, amount_minor: int) -> int | None:
    """The conditional debit of lifecycle.md §6; the new balance, or None when it is short."""
    result = session.execute(
        sa.update(Workspace).where(Workspace.balance_minor >= amount_minor)
        .values(balance_minor=Workspace.balance_minor - amount_minor)
        .returning(Workspace.balance_minor).execution_options(synchronize_session=False))
    row = result.first()
    return None if row is None else row[0]


def _charge_channels(session, actor, pool: CapacityPool, quantity: int) -> LedgerEntry:
    """Add `quantity` channels to a locked pool: one pool_charge row and the conditional debit.

    Raises DomainError "Balance {b} is short of {total}." and writes nothing when short.
    """
    ws = _workspace(session)
    if ws is None:
        raise DomainError("The workspace is not set up yet.")
    quote = capacity_rules.quote_channels(pool, quantity, local_today(ws))
    currency = ws.currency
    balance_after = _debit(session, quote.total_minor)
    if balance_after is None:
        raise DomainError(f"Balance {money.format_money(ws.balance_minor, currency)} is short of "
                          f"{money.format_money(quote.total_minor, currency)}.", "quantity")
    session.expire(ws, ["balance_minor"])
    before = pool.total_channels
    pool.total_channels = before + quantity
    entry = LedgerEntry(
        at=clock.now(), kind="pool_charge", amount_minor=-quote.total_minor, balance_after_minor=balance_after,
        pool_id=pool.id, actor_id=actor.user_id, actor_label=actor.label,
        note=f"{quantity} channels added to pool {pool.name}"[:500],
        detail={"pool": pool.name, "quantity": quantity, "setup_minor": quote.setup_minor,
                "prorated_minor": quote.prorated_minor, "days_left": quote.days_left,
                "days_in_period": quote.days_in_period})
    session.add(entry)
    audit.record(actor, "capacity_pool.channels_added", "capacity_pool", pool.id, pool.name,
                 before={"total_channels": before}, after={"total_channels": pool.total_channels},
                 note=f"Charged {money.format_money(quote.total_minor, currency)}")
    return entry


# ---- pools ---------------------------------------------------------------------------------

def create_pool(actor, *, name: str, countries: list[str], setup_price_minor: int, monthly_price_minor: int,
                metered_rate: Decimal | None, renew_date: date | None, channels: int = 0) -> CapacityPool:
    """Create a capacity pool (admin). Initial `channels` are charged as in add_channels().

    Raises DomainError for a taken name, no countries, negative prices or quantity, a missing
    renew date, or a short balance (then nothing is written).
    """
    name = clean_name(name)
    _check_pool_fields(countries, setup_price_minor, monthly_price_minor, metered_rate, renew_date)
    if not _quantity_ok(channels, 0):
        raise DomainError("Enter 0–100,000 channels.", "quantity")
    with write_transaction() as session:
        if name_taken(session, CapacityPool, name):
            raise DomainError("Name is already used by another pool.", "name")
        pool = CapacityPool(name=name, total_channels=0, setup_price_minor=setup_price_minor,
                            monthly_price_minor=monthly_price_minor, metered_rate=metered_rate,
                            renew_date=renew_date, created_at=clock.now())
        pool.countries = [CapacityPoolCountry(country=c) for c in sorted(set(countries))]
        session.add(pool)
        session.flush()
        audit.record(actor, "capacity_pool.created", "capacity_pool", pool.id, pool.name,
                     after=_pool_values(pool))
        if channels:
            _charge_channels(session, actor, pool, channels)
            _recompute_cutoff(session)
    return pool


def update_pool(actor, pool_id: int, *, version: int | None, name: str, countries: list[str],
                setup_price_minor: int, monthly_price_minor: int, metered_rate: Decimal | None,
                renew_date: date | None) -> CapacityPool:
    """Edit a pool's name, countries, prices and renew date (admin). Channels change only
    through add_channels() and remove_channels().

    Raises DomainError "Numbers from {country} use this pool." when a removed country is in use
    (dedicated channels or a group of this pool), and Conflict on a stale `version`.
    """
    name = clean_name(name)
    _check_pool_fields(countries, setup_price_minor, monthly_price_minor, metered_rate, renew_date)
    with write_transaction() as session:
        pool = _pool_for_update(session, pool_id)
        check_version(pool, version)
        if name_taken(session, CapacityPool, name, pool.id):
            raise DomainError("Name is already used by another pool.", "name")
        before = _pool_values(pool)
        wanted = sorted(set(countries))
        for code in sorted(set(pool.country_codes) - set(wanted)):
            if _country_in_use(session, pool.id, code):
                raise DomainError(f"Numbers from {code} use this pool.", "countries")
        if wanted != pool.country_codes:
            pool.countries = [c for c in pool.countries if c.country in wanted] + [
                CapacityPoolCountry(country=c) for c in wanted if c not in pool.country_codes]
        pool.name, pool.setup_price_minor, pool.monthly_price_minor = name, setup_price_minor, monthly_price_minor
        pool.metered_rate, pool.renew_date = metered_rate, renew_date
        b, a = audit.diff(before, _pool_values(pool))
        if a:
            audit.record(actor, "capacity_pool.updated", "capacity_pool", pool.id, pool.name, before=b, after=a)
            _recompute_cutoff(session)
    return pool


def _recompute_cutoff(session) -> None:
    """Pool renewals are part of the forecast: the balance, channels, price or date moved."""
    session.flush()
    forecast.recompute_cutoff(session)


def _country_in_use(session, pool_id: int, country: str) -> bool:
    in_group = Number.capacity_group_id.in_(sa.select(CapacityGroup.id).where(CapacityGroup.pool_id == pool_id))
    return session.scalar(sa.select(sa.exists().where(
        Number.country == country, sa.or_(Number.capacity_pool_id == pool_id, in_group))))


def add_channels(actor, pool_id: int, quantity: int) -> LedgerEntry:
    """Add channels to a pool (admin): one pool_charge ledger row of qty × setup price plus the
    prorated monthly price, debited in the same transaction.

    Raises DomainError for a quantity below 1, or "Balance {b} is short of {total}." (nothing
    written).
    """
    if not _quantity_ok(quantity, 1):
        raise DomainError("Enter a whole number of channels, 1 or more.", "quantity")
    with write_transaction() as session:
        pool = _pool_for_update(session, pool_id)
        entry = _charge_channels(session, actor, pool, quantity)
        _recompute_cutoff(session)
    return entry


def remove_channels(actor, pool_id: int, quantity: int) -> CapacityPool:
    """Remove unassigned channels from a pool (admin); nothing is refunded.

    Raises DomainError "Only unassigned channels can be removed ({u} unassigned)."
    """
    if not _quantity_ok(quantity, 1):
        raise DomainError("Enter a whole number of channels, 1 or more.", "quantity")
    with write_transaction() as session:
        pool = _pool_for_update(session, pool_id)
        free = capacity_rules.unassigned_channels(pool)
        if quantity > free:
            raise DomainError(f"Only unassigned channels can be removed ({free} unassigned).", "quantity")
        before = pool.total_channels
        pool.total_channels = before - quantity
        audit.record(actor, "capacity_pool.channels_removed", "capacity_pool", pool.id, pool.name,
                     before={"total_channels": before}, after={"total_channels": pool.total_channels})
        _recompute_cutoff(session)
    return pool


def delete_pool(actor, pool_id: int) -> None:
    """Delete a pool (admin).

    Raises InUse "Pool {name} is used by {n} numbers and {g} capacity groups." while numbers hold
    dedicated channels from it or groups use it; and while ledger rows name it (they are kept
    for ever and point at the pool).
    """
    with write_transaction() as session:
        pool = _pool_for_update(session, pool_id)
        n = session.scalar(sa.select(sa.func.count()).select_from(Number).where(Number.capacity_pool_id == pool.id))
        group_ids = list(session.scalars(sa.select(CapacityGroup.id).where(CapacityGroup.pool_id == pool.id)))
        if n or group_ids:
            raise InUse(f"Pool {pool.name} is used by {n} numbers and {len(group_ids)} capacity groups.",
                        {"capacity_group": group_ids} if group_ids else None)
        if session.scalar(sa.select(sa.exists().where(LedgerEntry.pool_id == pool.id))):
            raise InUse(f"Pool {pool.name} has ledger entries, which are kept for ever; it can't be deleted.")
        audit.record(actor, "capacity_pool.deleted", "capacity_pool", pool.id, pool.name,
                     before=_pool_values(pool))
        session.delete(pool)


# ---- capacity groups ------------------------------------------------------------------------

def _check_group_fields(shared_channels: int, metered_channels: int) -> None:
    refusal = capacity_rules.group_channels_refusal(shared_channels, metered_channels)
    if refusal:
        raise DomainError(refusal[1], refusal[0])


def create_group(actor, *, name: str, description: str | None, pool_id: int, shared_channels: int,
                 metered_channels: int) -> CapacityGroup:
    """Create a shared capacity group (operator+).

    Raises DomainError for a taken name, a missing pool, "Pool {pool} has only {u} unassigned
    channels.", "Metered channels must be 0–1,000." or "A capacity group needs at least one
    shared or metered channel."
    """
    name, description = clean_name(name), clean_description(description)
    _check_group_fields(shared_channels, metered_channels)
    with write_transaction() as session:
        if name_taken(session, CapacityGroup, name):
            raise DomainError("Name is already used by another capacity group.", "name")
        pool = session.scalars(sa.select(CapacityPool).where(CapacityPool.id == pool_id).with_for_update()).first()
        if pool is None:
            raise DomainError("Choose a pool.", "pool_id")
        refusal = capacity_rules.shared_refusal(pool, shared_channels)
        if refusal:
            raise DomainError(refusal, "shared_channels")
        group = CapacityGroup(name=name, description=description, pool_id=pool.id, shared_channels=shared_channels,
                              metered_channels=metered_channels, created_at=clock.now())
        session.add(group)
        session.flush()
        audit.record(actor, "capacity_group.created", "capacity_group", group.id, group.name,
                     after=_group_values(group, pool.name))
    return group


def _member_count(session, group_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Number).where(Number.capacity_group_id == group_id))


def update_group(actor, group_id: int, *, version: int | None, name: str, description: str | None,
                 pool_id: int, shared_channels: int, metered_channels: int) -> CapacityGroup:
    """Edit a capacity group (operator+). The pool changes only while the group has no numbers.
    A change of channels recomputes the status of the group's numbers in the same transaction.

    Raises DomainError as create_group() does, and Conflict on a stale `version`.
    """
    name, description = clean_name(name), clean_description(description)
    _check_group_fields(shared_channels, metered_channels)
    with write_transaction() as session:
        group = existing(session, CapacityGroup, group_id, "That capacity group does not exist.")
        check_version(group, version)
        if name_taken(session, CapacityGroup, name, group.id):
            raise DomainError("Name is already used by another capacity group.", "name")
        old_pool = session.get(CapacityPool, group.pool_id)
        pool = session.scalars(sa.select(CapacityPool).where(CapacityPool.id == pool_id).with_for_update()).first()
        if pool is None:
            raise DomainError("Choose a pool.", "pool_id")
        moving = pool.id != group.pool_id
        if moving and (members := _member_count(session, group.id)):
            raise DomainError(f"The pool can't change while the group has numbers ({members}).", "pool_id")
        refusal = capacity_rules.shared_refusal(pool, shared_channels, 0 if moving else group.shared_channels)
        if refusal:
            raise DomainError(refusal, "shared_channels")
        before = _group_values(group, old_pool.name)
        channels_changed = (shared_channels, metered_channels) != (group.shared_channels, group.metered_channels)
        group.name, group.description, group.pool_id = name, description, pool.id
        group.shared_channels, group.metered_channels = shared_channels, metered_channels
        b, a = audit.diff(before, _group_values(group, pool.name))
        if a:
            audit.record(actor, "capacity_group.updated", "capacity_group", group.id, group.name, before=b, after=a)
        if channels_changed:
            session.flush()
            status.recompute(Number.capacity_group_id == group.id)
    return group


def delete_group(actor, group_id: int) -> None:
    """Delete a capacity group (operator+); its shared channels return to the pool.

    Raises InUse "Capacity group {name} has {n} numbers. Remove them from the group first.", or
    "Capacity group {name} is used by profiles: {names}." (a profile would point at nothing).
    """
    with write_transaction() as session:
        group = existing(session, CapacityGroup, group_id, "That capacity group does not exist.")
        if members := _member_count(session, group.id):
            raise InUse(f"Capacity group {group.name} has {members} numbers. Remove them from the group first.",
                        {"capacity_group": [group.id]})
        profiles = list(session.scalars(sa.select(ConfigurationProfile.name)
                                        .where(ConfigurationProfile.capacity_group_id == group.id)
                                        .order_by(ConfigurationProfile.name)))
        if profiles:
            raise InUse(f"Capacity group {group.name} is used by profiles: {', '.join(profiles)}.")
        pool = session.get(CapacityPool, group.pool_id)
        audit.record(actor, "capacity_group.deleted", "capacity_group", group.id, group.name,
                     before=_group_values(group, pool.name))
        session.delete(group)


# ---- reads for the pages --------------------------------------------------------------------

def member_counts() -> dict[int, int]:
    """Numbers per capacity group, one grouped query."""
    return dict(db.session.execute(sa.select(Number.capacity_group_id, sa.func.count())
                                   .where(Number.capacity_group_id.is_not(None))
                                   .group_by(Number.capacity_group_id)).all())
