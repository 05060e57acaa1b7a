"""Adding numbers on the web: single, range or list, previewed, then confirmed (lifecycle.md §2).

The preview and the confirm build the same rows with the same function (`_build`), which applies
the rules through `create.apply_rules`, so what the user confirmed is what gets written. Reading is
set-based where it touches the database: one chunked query for the numbers already in the
inventory, one load of the rules, one of the registration requirements.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import phonenumbers
import sqlalchemy as sa

from did_app import clock, money, phone
from did_app.db import chunked, db, write_transaction
from did_app.errors import DomainError
from did_app.lifecycle import create
from did_app.models import CapacityGroup, Number, Order, SmsRoute, VoiceRoute, Workspace
from did_app.models.numbers import FEATURES, features_mask
from did_app.numbers import search
from did_app.registration.requirements import registration_required, requirement_table

MAX_NUMBERS = 10_000
SHOWN_ROWS = 500
INVALID = "Enter a valid phone number, e.g. +44 20 7183 8750."
RANGE_SHAPE = "First and last must have the same country code and length."
RANGE_SIZE = "A range can hold at most 10,000 numbers."
LIST_SIZE = "Paste at most 10,000 numbers."
OUTCOMES = {"add": "add", "skip": "skip — already in the inventory", "error": "error — not a valid number"}


@dataclass
class Common:
    """The common fields of §2, already shaped by the form (money in minor units)."""
    monthly_price_minor: int
    setup_price_minor: int = 0
    number_type: str | None = None  # None: detected per number
    features: tuple = ("voice_in",)
    needs_registration: bool | None = None  # None: from requirement_for(country, type)
    capacity_mode: str | None = None  # None: by number type
    channels_included: int | None = None  # fixed mode only
    allow_additional_channels: bool = True
    billing_cycles_count: int | None = None
    paid_until: datetime | None = None
    description: str | None = None
    voice_route_id: int | None = None
    sms_route_id: int | None = None
    capacity_group_id: int | None = None
    capacity_limit: int | None = None
    order_reference: str | None = None

    def stored(self) -> dict:
        """JSON-safe copy (a port-in request keeps it for numbers added later)."""
        data = {k: v for k, v in self.__dict__.items() if k != "paid_until"}
        data["features"] = list(self.features)
        return data

    @classmethod
    def from_stored(cls, data: dict | None) -> "Common":
        """The fields a port-in request kept; raises DomainError when it kept none to add numbers with."""
        data = dict(data or {})
        if "monthly_price_minor" not in data:
            raise DomainError("This request keeps no prices for new numbers: add them with a new port-in request.")
        data["features"] = tuple(data.get("features") or ("voice_in",))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class AddInput:
    tab: str  # single, range or list
    number: str = ""
    first: str = ""
    last: str = ""
    text: str = ""
    country: str | None = None  # single only: the location as edited in step 2
    region: str | None = None
    city: str | None = None


@dataclass
class Row:
    """One preview row: a number (E.164) or the raw text that is not one."""
    text: str
    outcome: str
    country: str | None = None
    region: str | None = None
    city: str | None = None
    number_type: str | None = None
    spec: create.NumberSpec | None = None

    @property
    def outcome_text(self) -> str:
        return OUTCOMES[self.outcome]


@dataclass
class Preview:
    rows: list[Row]
    specs: list[create.NumberSpec]
    balance_minor: int
    currency: str
    skipped: int = 0
    errors: int = 0
    charge: tuple[int, int, int] = (0, 0, 0)  # total, setup, first month
    error_texts: list[str] = field(default_factory=list)
    registration_deadline: datetime | None = None  # what confirming now would set (lifecycle.md §2)

    @property
    def needing_registration(self) -> int:
        """How many of the numbers to add would await registration."""
        return sum(1 for s in self.specs if s.needs_registration)

    @property
    def added(self) -> int:
        return len(self.specs)

    @property
    def shown(self) -> list[Row]:
        return self.rows[:SHOWN_ROWS]

    def _money(self, minor: int) -> str:
        return money.format_money(minor, self.currency)

    @property
    def summary(self) -> str:
        total, setup, first = self.charge
        return (f"{self.added:,} to add, {self.skipped:,} skipped, {self.errors:,} with errors. "
                f"Charge {self._money(total)} (setup {self._money(setup)} + first month {self._money(first)}). "
                f"Balance {self._money(self.balance_minor)} → {self._money(self.balance_minor - total)}.")

    @property
    def blocker(self) -> str | None:
        """Why Confirm is disabled, or None."""
        if self.errors:
            return f"Fix the {self.errors:,} number{'s' if self.errors != 1 else ''} with errors."
        if not self.specs:
            return "There are no numbers to add."
        if self.charge[0] > self.balance_minor:
            return f"Balance {self._money(self.balance_minor)} is short of {self._money(self.charge[0])}."
        return None


# ---- reading the input ---------------------------------------------------------------------

def _parse_one(text: str, default_country: str, field_name: str):
    text = (text or "").strip()
    num = phone.parse(text, default_country) if text else None
    if num is None:
        raise DomainError(INVALID, field_name)
    return num


def _read_range(first: str, last: str, default_country: str) -> list[tuple[str, object]]:
    a, b = _parse_one(first, default_country, "first"), _parse_one(last, default_country, "last")
    start, end = phone.e164(a), phone.e164(b)
    if a.country_code != b.country_code or len(start) != len(end):
        raise DomainError(RANGE_SHAPE, "last")
    if int(end[1:]) < int(start[1:]):
        raise DomainError("The last number must not come before the first.", "last")
    if int(end[1:]) - int(start[1:]) + 1 > MAX_NUMBERS:
        raise DomainError(RANGE_SIZE, "last")
    out = []
    for digits in range(int(start[1:]), int(end[1:]) + 1):
        text = f"+{digits}"
        out.append((text, phone.parse(text)))
    return out


def read_list(text: str, default_country: str, field_name: str = "numbers") -> tuple[list[str], list[str]]:
    """A pasted list read like the search box (numbers.md §7.6): (E.164 numbers, raw items that
    are not valid numbers), each de-duplicated, in paste order. Raises DomainError past 10,000."""
    items = search.split_items(text or "", default_country, limit=MAX_NUMBERS + 1)
    if not items:
        raise DomainError("Paste at least one number.", field_name)
    if len(items) > MAX_NUMBERS:
        raise DomainError(LIST_SIZE, field_name)
    plan = search.resolve_items(items, default_country)
    if plan.kind == "fragment":  # one short item: for adding, simply not a number
        return [], items[:1]
    return plan.numbers, plan.unrecognised


def _candidates(inp: AddInput, default_country: str) -> list[tuple[str, object]]:
    """(text, parsed number or None) per input item, in input order."""
    if inp.tab == "range":
        return _read_range(inp.first, inp.last, default_country)
    if inp.tab == "list":
        numbers, bad = read_list(inp.text, default_country)
        return [(raw, None) for raw in bad] + [(n, phonenumbers.parse(n)) for n in numbers]
    num = _parse_one(inp.number, default_country, "number")
    return [(phone.e164(num), num)]


def existing_numbers(session, numbers: list[str]) -> set[str]:
    """Which of `numbers` (E.164) are in the inventory: one query per 900."""
    found = set()
    for part in chunked(numbers):
        found.update(session.scalars(sa.select(Number.number).where(Number.number.in_(part))))
    return found


class _Locator:
    """phone.locate() cached by what the geocoder reads: the leading digits and whether the type
    is geographical (our type code tells that). A range of 10,000 numbers geocodes a few times."""

    def __init__(self):
        self.cache: dict = {}

    def __call__(self, e164: str, num, detected_type: str) -> tuple[str | None, str | None]:
        # the geocoder matches at most 9 digits; a mobile token (Argentina's 9) is dropped first
        digits = 10 if phonenumbers.country_mobile_token(num.country_code) else 9
        key = (e164[:1 + digits], detected_type)
        if key not in self.cache:
            self.cache[key] = phone.locate(num)
        return self.cache[key]


# ---- building the rows ---------------------------------------------------------------------

def _check_location(inp: AddInput, num) -> None:
    if not inp.country:
        raise DomainError("Enter an ISO country code such as US.", "country")
    if phonenumbers.country_code_for_region(inp.country) != num.country_code:
        raise DomainError(f"Country {inp.country} does not match +{num.country_code}.", "country")


def make_specs(numbers: list[tuple[str, object]], common: Common,
               location: AddInput | None = None) -> list[create.NumberSpec]:
    """One NumberSpec per parsed number: detection, the common fields and the requirement
    default; `location` (a single number's step 2) overrides country, region and city."""
    table, locate = requirement_table(), _Locator()
    mask = features_mask(common.features)
    specs = []
    for text, num in numbers:
        country, detected = phone.country_of(num), phone.type_of(num)
        region, city = locate(text, num, detected)
        if location is not None:
            _check_location(location, num)
            country, region, city = location.country, location.region or None, location.city or None
        number_type = common.number_type or detected
        needs = common.needs_registration
        if needs is None:
            needs = registration_required(table, country, number_type)
        specs.append(create.NumberSpec(
            number=text, country=country, number_type=number_type, region=region, city=city,
            monthly_price_minor=common.monthly_price_minor, setup_price_minor=common.setup_price_minor,
            features=mask, needs_registration=needs, capacity_mode=common.capacity_mode,
            channels_included=common.channels_included,
            allow_additional_channels=common.allow_additional_channels,
            billing_cycles_count=common.billing_cycles_count, paid_until=common.paid_until,
            description=common.description, voice_route_id=common.voice_route_id,
            sms_route_id=common.sms_route_id, capacity_group_id=common.capacity_group_id,
            capacity_limit=common.capacity_limit, order_reference=common.order_reference))
    return specs


def check_common(session, common: Common, specs: list[create.NumberSpec]) -> None:
    """Rules of the common fields that need the database or the numbers; raises DomainError."""
    if common.paid_until is not None and common.paid_until <= clock.now():
        raise DomainError("Paid-until date must be in the future.", "paid_until")
    if "cnam_out" in common.features and any(s.country != "US" for s in specs):
        raise DomainError("CNAM is only available for US numbers.", "features")
    for column, model, feature, label in (("voice_route_id", VoiceRoute, "voice_in", "voice route"),
                                          ("sms_route_id", SmsRoute, "sms_in", "SMS route")):
        value = getattr(common, column)
        if value is None:
            continue
        if session.get(model, value) is None:
            raise DomainError(f"Choose a {label} from the list.", column)
        if feature not in common.features:
            raise DomainError(f"A {label} needs the {FEATURES[feature][0]} feature.", column)
    if common.capacity_group_id is not None:
        _check_group(session, common, specs)


def _check_group(session, common: Common, specs) -> None:
    group = session.get(CapacityGroup, common.capacity_group_id)
    if group is None:
        raise DomainError("Choose a capacity group from the list.", "capacity_group_id")
    if any(not s.allow_additional_channels for s in specs):
        raise DomainError("These numbers cannot take additional channels.", "capacity_group_id")
    covered = set(session.scalars(sa.text("SELECT country FROM capacity_pool_country WHERE pool_id = :p")
                                  .bindparams(p=group.pool_id)))
    missing = sorted({s.country for s in specs} - covered)
    if missing:
        raise DomainError(f"Capacity group {group.name} does not cover {', '.join(missing)}.",
                          "capacity_group_id")


def _workspace(session) -> Workspace:
    return session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).one()


def _prepare(inp: AddInput, common: Common, default_country: str) -> tuple[list, dict]:
    """The input read and described, without the inventory: (candidates, {number: spec}).
    This is the slow part (parsing, geocoding), so the confirm runs it before taking the write lock."""
    candidates = _candidates(inp, default_country)
    valid = [(text, num) for text, num in candidates if num is not None]
    located = inp if inp.tab == "single" and inp.country is not None else None
    return candidates, {s.number: s for s in make_specs(valid, common, located)}


def _build(session, inp: AddInput, common: Common, prepared: tuple | None = None) -> Preview:
    ws = _workspace(session)
    candidates, described = prepared or _prepare(inp, common, ws.default_country)
    existing = existing_numbers(session, list(described))
    specs = [spec for number, spec in described.items() if number not in existing]
    check_common(session, common, specs)
    create.apply_rules(session, specs)
    rows = []
    for text, _ in candidates:
        s = described.get(text)
        if s is None:
            rows.append(Row(text, "error"))
        else:
            rows.append(Row(text, "skip" if text in existing else "add", s.country, s.region, s.city,
                            s.number_type, None if text in existing else s))
    rows.sort(key=lambda r: r.outcome != "error")  # stable: the rest keep the input order
    errors = [r.text for r in rows if r.outcome == "error"]
    return Preview(rows=rows, specs=specs, balance_minor=ws.balance_minor, currency=ws.currency,
                   skipped=len(existing), errors=len(errors), charge=create.total_charge(specs),
                   error_texts=errors,
                   # as create.py sets it on confirm: from now, the workspace's deadline days
                   registration_deadline=clock.now() + timedelta(days=ws.registration_deadline_days))


# ---- the use cases -------------------------------------------------------------------------

def preview_add(inp: AddInput, common: Common) -> Preview:
    """Step 2: what adding these numbers would do, row by row, with the rule each one gets.
    Writes nothing. Raises DomainError (with its field) for input that can't be read."""
    return _build(db.session, inp, common)


def _newest_of(session, numbers: list[str]) -> str | None:
    best = None
    for part in chunked(numbers):
        row = session.execute(sa.select(Number.created_at, Number.id, Number.number)
                              .where(Number.number.in_(part))
                              .order_by(Number.created_at.desc(), Number.id.desc()).limit(1)).first()
        if row is not None and (best is None or (row[0], row[1]) > (best[0], best[1])):
            best = row
    return best[2] if best else None


def _check_unchanged(session, preview: Preview, expected: int | None) -> None:
    """The confirm adds what the preview showed: fewer numbers to add means someone added one."""
    if expected is None or preview.added == expected:
        return
    if preview.added < expected:
        skipped = [r.text for r in preview.rows if r.outcome == "skip"]
        raise DomainError(create.ADDED_BY_OTHER.format(number=_newest_of(session, skipped)))
    raise DomainError("The inventory changed since the preview. Review again.")


def confirm_add(actor, inp: AddInput, common: Common, *, expected: int | None = None) -> tuple[Order, int]:
    """Step 3: add the previewed numbers in one transaction: the order (kind add, completed), the
    numbers with explicit values and the rule's profile, expiry, registration, one add_charge
    ledger row per charged number, history.

    Raises DomainError when a row has an error, nothing is left to add, the balance is short, or a
    number was added by someone else since the preview ("… Review again."). Nothing is written then.
    Returns (the order, how many numbers were added).
    """
    prepared = _prepare(inp, common, _workspace(db.session).default_country)
    with write_transaction() as session:
        preview = _build(session, inp, common, prepared)
        if preview.errors or not preview.specs:
            raise DomainError(preview.blocker)
        _check_unchanged(session, preview, expected)
        orders = create.create_numbers(session, actor, preview.specs, kind="add")
    return orders[0], preview.added
