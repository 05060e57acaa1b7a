"""Numbers entering the inventory (lifecycle.md §1–§4): the one creation service behind add,
CSV import and port-in requests.

Callers validate input and build `NumberSpec`s; `apply_rules()` fills what the user left blank from
the winning rule's profile (configuration.md §9) and is used by previews too; `create_numbers()`
writes everything in the caller's transaction with set-based statements.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from did_app import audit, clock, money
from did_app.db import chunked
from did_app.errors import DomainError
from did_app.lifecycle import forecast, ledger, periods
from did_app.models import (
    CapacityGroup,
    ConfigurationProfile,
    LedgerEntry,
    Number,
    Order,
    ReleasedNumber,
    SmsRoute,
    VoiceRoute,
    Workspace,
)
from did_app.models.numbers import SMS_IN, VOICE_IN
from did_app.rules import status
from did_app.rules.profiles import PROFILE_FIELDS, rule_matcher

FIXED_TYPES = ("toll_free", "global")
ADDED_BY_OTHER = "{number} was added by someone else meanwhile. Review again."


def default_capacity(number_type: str) -> tuple[str, int]:
    """(capacity mode, channels included) by type (numbers.md §2)."""
    return ("fixed", 300) if number_type in FIXED_TYPES else ("two_included", 2)


@dataclass
class NumberSpec:
    """One number to create, as validated by its intake path."""
    number: str  # E.164
    country: str
    number_type: str
    monthly_price_minor: int
    region: str | None = None
    city: str | None = None
    features: int = VOICE_IN
    needs_registration: bool = False
    capacity_mode: str | None = None  # None: the type's default
    channels_included: int | None = None
    allow_additional_channels: bool = True
    setup_price_minor: int = 0
    billing_cycles_count: int | None = None
    paid_until: datetime | None = None  # when given, the number is not charged
    description: str | None = None
    voice_route_id: int | None = None
    sms_route_id: int | None = None
    capacity_group_id: int | None = None
    capacity_limit: int | None = None
    capacity_pool_id: int | None = None
    dedicated_channels: int = 0
    identity_id: int | None = None
    order_reference: str | None = None  # external reference; import groups rows by it
    # filled by apply_rules()
    rule_name: str | None = None
    profile_name: str | None = None
    profile_set: dict = field(default_factory=dict)  # audit key → value the profile filled
    profile_skipped: list = field(default_factory=list)

    def charge_minor(self) -> int:
        """Setup + first month, unless already paid elsewhere (paid until)."""
        return 0 if self.paid_until else self.setup_price_minor + self.monthly_price_minor

    def __post_init__(self):
        mode, channels = default_capacity(self.number_type)
        if self.capacity_mode is None:
            self.capacity_mode = mode
        if self.channels_included is None:
            self.channels_included = {"two_included": 2, "zero_included": 0, "metered": 0}.get(
                self.capacity_mode, channels)
        if self.capacity_mode in ("fixed", "metered"):
            self.allow_additional_channels = False


def apply_rules(session, specs: list[NumberSpec]) -> None:
    """Fill blank fields of each spec from its winning rule's profile; explicit values win."""
    match = rule_matcher()
    profiles = {p.id: p for p in session.scalars(sa.select(ConfigurationProfile))}
    groups = {g.id: g for g in session.scalars(sa.select(CapacityGroup))}
    covers = {(pc.pool_id, pc.country) for pc in session.execute(
        sa.text("SELECT pool_id, country FROM capacity_pool_country"))}
    labels = _labels(session)
    for spec in specs:
        rule = match(spec.country, spec.number_type, spec.region, spec.city)
        spec.rule_name = spec.profile_name = None
        spec.profile_set, spec.profile_skipped = {}, []
        if rule is None:
            continue
        profile = profiles[rule.profile_id]
        spec.rule_name, spec.profile_name = rule.name, profile.name
        for column, key, _label, _model in PROFILE_FIELDS:
            wanted = getattr(profile, column)
            if wanted is None or getattr(spec, column) is not None:
                continue
            refusal = _refusal(spec, column, wanted, groups, covers)
            if refusal:
                spec.profile_skipped.append(refusal)
                continue
            setattr(spec, column, wanted)
            spec.profile_set[key] = labels.get((column, wanted), wanted)


def _refusal(spec, column, wanted, groups, covers) -> str | None:
    if column == "voice_route_id" and not spec.features & VOICE_IN:
        return "This number does not support inbound voice."
    if column == "sms_route_id" and not spec.features & SMS_IN:
        return "This number does not support inbound SMS."
    if column == "capacity_group_id":
        group = groups[wanted]
        if not spec.allow_additional_channels:
            return "This number cannot take additional channels."
        if (group.pool_id, spec.country) not in covers:
            return f"Capacity group {group.name} does not cover {spec.country}."
    return None


def _labels(session) -> dict:
    out = {}
    for column, model in (("voice_route_id", VoiceRoute), ("sms_route_id", SmsRoute),
                          ("capacity_group_id", CapacityGroup)):
        for obj_id, name in session.execute(sa.select(model.id, model.name)):
            out[(column, obj_id)] = name
    return out


def total_charge(specs) -> tuple[int, int, int]:
    """(total, setup part, first-month part) in minor units."""
    charged = [s for s in specs if not s.paid_until]
    setup = sum(s.setup_price_minor for s in charged)
    first = sum(s.monthly_price_minor for s in charged)
    return setup + first, setup, first


def new_order(session, actor, kind: str, status_: str, external_reference: str | None = None,
              count: int = 0, port_in_request_id: int | None = None) -> Order:
    order = Order(kind=kind, status=status_, external_reference=external_reference or None,
                  created_at=clock.now(), created_by=actor.user_id, number_count=count,
                  port_in_request_id=port_in_request_id)
    session.add(order)
    session.flush()
    order.reference = f"ORD-{order.id:06d}"
    return order


def create_numbers(session, actor, specs: list[NumberSpec], *, kind: str, porting: bool = False,
                   port_in_request_id: int | None = None, order: Order | None = None,
                   short_message: str | None = None) -> list[Order]:
    """Create the numbers with their orders, charges and history; raises DomainError (nothing written
    by the caller's transaction) when a number already exists or the balance is short.

    Rules must already have been applied (apply_rules) so that previews and the confirm agree.
    Port-in numbers are created with porting = true, no expiry and no charge.
    """
    if not specs:
        raise DomainError("There are no numbers to add.")
    _refuse_existing(session, [s.number for s in specs])
    ws = session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).one()
    now = clock.now()
    orders = _orders_for(session, actor, specs, kind, order, port_in_request_id)
    rows = [_row(spec, ws, now, actor, orders, porting, port_in_request_id) for spec in specs]
    _assign_fresh_ids(session, rows)
    try:
        with session.begin_nested():
            # render_nulls: rows with and without a region (say) stay one batch, not one per shape
            created = session.execute(sa.insert(Number).returning(Number.id, Number.number)
                                      .execution_options(render_nulls=True), rows).all()
    except sa.exc.IntegrityError:
        _refuse_existing(session, [s.number for s in specs])
        raise
    ids = {number: number_id for number_id, number in created}
    if not porting:
        charge(session, actor, specs, ids, orders, short_message=short_message)
    _history(actor, specs, ids, orders, kind)
    status.recompute(Number.id.in_(list(ids.values())) if len(ids) <= 900 else
                     Number.order_id.in_([o.id for o in orders.values()]))
    forecast.recompute_cutoff(session)
    return list(dict.fromkeys(orders.values()))


def _assign_fresh_ids(session, rows: list[dict]) -> None:
    """On SQLite, give new numbers ids above every id ever used.

    SQLite reuses the highest rowid once that row is deleted, and a released number's ledger
    rows, refund key and history keep its id: a new number on the same id would inherit its money.
    PostgreSQL's sequence never goes back, so it keeps assigning ids itself.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    highest = max(session.scalar(sa.select(sa.func.max(column))) or 0 for column in (
        Number.id, ReleasedNumber.old_number_id, LedgerEntry.number_id))
    for offset, row in enumerate(rows, start=1):
        row["id"] = highest + offset


def charge(session, actor, specs, ids: dict, orders: dict, *, short_message: str | None = None) -> None:
    """One add_charge ledger row per charged number: setup + first month."""
    total, _, _ = total_charge(specs)
    ws_currency = session.scalar(sa.select(Workspace.currency).limit(1))
    message = short_message
    if message is None:
        message = f"Balance {{balance}} is short of {money.format_money(total, ws_currency)}."
    entries = [ledger.Entry(s.charge_minor(), number_id=ids[s.number], number=s.number,
                            order_id=orders[s.order_reference].id,
                            detail={"setup": s.setup_price_minor, "first_month": s.monthly_price_minor})
               for s in specs if s.charge_minor()]
    try:
        ledger.post(session, "add_charge", entries, actor)
    except ledger.BalanceShort as short:
        raise DomainError(message.replace("{balance}", money.format_money(short.balance_minor, ws_currency)))


def _refuse_existing(session, numbers: list[str]) -> None:
    for chunk in chunked(numbers):
        taken = session.scalar(sa.select(Number.number).where(Number.number.in_(chunk)).limit(1))
        if taken:
            raise DomainError(ADDED_BY_OTHER.format(number=taken))


def _orders_for(session, actor, specs, kind, order, port_in_request_id) -> dict:
    """{order reference: Order}; one order per distinct external reference (import), or `order`."""
    counts = defaultdict(int)
    for s in specs:
        counts[s.order_reference or None] += 1
    if order is not None:
        order.number_count += len(specs)
        return {ref: order for ref in counts}
    status_ = "pending" if kind == "port_in" else "completed"
    return {ref: new_order(session, actor, kind, status_, ref, count, port_in_request_id)
            for ref, count in counts.items()}


def _row(spec: NumberSpec, ws, now, actor, orders, porting, port_in_request_id) -> dict:
    expires_at = None
    anchor = periods.anchor_day_of(now, ws.time_zone)
    if not porting:
        if spec.paid_until:
            expires_at = spec.paid_until
            anchor = periods.anchor_day_of(spec.paid_until, ws.time_zone)
        else:
            expires_at = periods.next_expiry(now, 1, anchor, ws.time_zone)
    awaiting = spec.needs_registration and not porting
    return dict(
        number=spec.number, country=spec.country, region=spec.region, city=spec.city,
        number_type=spec.number_type, features=spec.features, needs_registration=spec.needs_registration,
        awaiting_registration=awaiting,
        registration_deadline_at=now + timedelta(days=ws.registration_deadline_days) if awaiting else None,
        capacity_mode=spec.capacity_mode, channels_included=spec.channels_included,
        allow_additional_channels=spec.allow_additional_channels, dedicated_channels=spec.dedicated_channels,
        capacity_pool_id=spec.capacity_pool_id, capacity_group_id=spec.capacity_group_id,
        capacity_limit=spec.capacity_limit, voice_route_id=spec.voice_route_id, sms_route_id=spec.sms_route_id,
        description=spec.description, billing_cycles_count=spec.billing_cycles_count,
        monthly_price_minor=spec.monthly_price_minor, setup_price_minor=spec.setup_price_minor,
        billing_anchor_day=anchor, created_at=now, created_by=actor.user_id, expires_at=expires_at,
        porting=porting, port_in_request_id=port_in_request_id,
        order_id=orders[spec.order_reference].id, identity_id=spec.identity_id, version=1,
        status="not_configured", expiring_soon=False, attention_static=False)


def _history(actor, specs, ids, orders, kind) -> None:
    events = []
    for s in specs:
        order = orders[s.order_reference]
        events.append(dict(action="number.added", object_type="number", object_id=ids[s.number],
                           object_label=s.number, after={"order": order.reference, "kind": kind},
                           note=f"Added by {order.reference}"))
        if s.profile_set:
            events.append(dict(action="number.updated", object_type="number", object_id=ids[s.number],
                               object_label=s.number, after=dict(s.profile_set),
                               note=f"Profile {s.profile_name} applied by rule {s.rule_name}"))
    audit.record_many(actor, events)
