"""CSV export of My Numbers (numbers.md §7.8): streamed, keyset-paged, formula-safe (csv_out)."""
from datetime import timezone
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from did_app import csv_out, money
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import (
    CapacityGroup,
    Identity,
    Number,
    Order,
    PortInRequest,
    SmsRoute,
    VerificationRequest,
    VoiceRoute,
)
from did_app.models.numbers import features_codes
from did_app.numbers.queries import STATUS_ORDER

COLUMNS = ("number", "country", "region", "city", "number_type", "status", "expiring_soon",
           "expires_at", "billing_cycles", "description", "voice_route", "sms_route", "capacity_mode",
           "channels_included", "dedicated_channels", "capacity_group", "capacity_limit", "identity",
           "verification", "features", "order_reference", "monthly_price", "created_at")
CHUNK = 1000
MAX_IDS = 10_000  # the most rows a selection picks one by one (batch.md §1)
IDS_MESSAGE = "Select at most 10,000 rows one by one; use 'Select all matching' for more."


def parse_ids(raw: str) -> list[int]:
    """The explicit selection's `ids=1,2,3` (batch.md §1): distinct positive ids in their order;
    anything else in the list is skipped. Raises DomainError above MAX_IDS."""
    ids = list(dict.fromkeys(int(part) for part in raw.split(",")
                             if part.strip().isascii() and part.strip().isdigit() and len(part.strip()) <= 18))
    if len(ids) > MAX_IDS:
        raise DomainError(IDS_MESSAGE)
    return [i for i in ids if i > 0]


def ids_condition(ids: list[int]):
    """Number.id among `ids`, 900 to an IN list as every statement that names numbers by id."""
    return sa.or_(sa.false(), *(Number.id.in_(ids[start:start + 900]) for start in range(0, len(ids), 900)))


def _iso(value) -> str:
    """UTC ISO 8601 from a datetime (PostgreSQL) or SQLite's stored text, which is sliced, not parsed."""
    if not value:
        return ""
    if isinstance(value, str):  # "YYYY-MM-DD HH:MM:SS[.ffffff]", naive UTC
        return f"{value[:10]}T{value[11:19]}Z"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw(column):
    # skip the per-row datetime parsing of UTCDateTime: 2 timestamps × 100k rows is seconds
    return sa.type_coerce(column, sa.String)


_vr = aliased(VerificationRequest)


def _select(conds):
    verification = sa.case(
        (Number.needs_registration.is_(False), "not_required"),
        (Number.awaiting_registration.is_(False), "approved"),
        (Number.verification_request_id.is_(None), "missing"),
        else_=_vr.status)
    order_ref = sa.case((Number.porting.is_(True), PortInRequest.reference),
                        else_=sa.func.coalesce(Order.external_reference, Order.reference))
    # route, group and identity names come from small dicts (see _names), not from joins
    return (sa.select(
        Number.number, Number.country, Number.region, Number.city, Number.number_type, Number.status,
        Number.expiring_soon, _raw(Number.expires_at), Number.billing_cycles_count, Number.description,
        Number.voice_route_id, Number.sms_route_id, Number.capacity_mode, Number.channels_included,
        Number.dedicated_channels, Number.capacity_group_id, Number.capacity_limit, Number.identity_id,
        verification, Number.features, order_ref, Number.monthly_price_minor, _raw(Number.created_at))
        .outerjoin(_vr, _vr.id == Number.verification_request_id)
        .outerjoin(Order, Order.id == Number.order_id)
        .outerjoin(PortInRequest, PortInRequest.id == Number.port_in_request_id)
        .where(*conds))


def _names() -> dict[str, dict[int, str]]:
    """id → display name of every route, capacity group and identity (small tables)."""
    identity_name = sa.case((Identity.identity_type == "business", Identity.company_name),
                            else_=Identity.first_name + " " + Identity.last_name)
    read = db.session.connection().execute
    return {
        "voice": dict(read(sa.select(VoiceRoute.id, VoiceRoute.name)).all()),
        "sms": dict(read(sa.select(SmsRoute.id, SmsRoute.name)).all()),
        "group": dict(read(sa.select(CapacityGroup.id, CapacityGroup.name)).all()),
        "identity": dict(read(sa.select(Identity.id, identity_name)).all()),
    }


@lru_cache(maxsize=128)
def _features_text(mask: int) -> str:
    return ";".join(features_codes(mask))


def _price_formatter(currency: str):
    digits = money.exponent(currency)
    scale = 10 ** digits
    if digits == 0:
        return str
    return lambda minor: f"{'-' if minor < 0 else ''}{abs(minor) // scale}.{abs(minor) % scale:0{digits}d}"


def _format(row, price, names) -> list:
    """One CSV row; the writer guards every cell against formulas."""
    (number, country, region, city, ntype, status, expiring, expires_at, cycles, description,
     voice_id, sms_id, mode, included, dedicated, group_id, limit, identity_id, verification, features,
     order_ref, price_minor, created_at) = row
    return [number, country, region, city, ntype, status, "true" if expiring else "false", _iso(expires_at),
            "unlimited" if cycles is None else cycles, description, names["voice"].get(voice_id),
            names["sms"].get(sms_id), mode, included, dedicated, names["group"].get(group_id), limit,
            names["identity"].get(identity_id), verification, _features_text(features), order_ref,
            price(price_minor), _iso(created_at)]


def _keyset_rows(conds, sort: str):
    """All matching rows in the table's order, read by keyset pages of CHUNK rows.

    Row values never match NULL, so rows without expires_at stream in a second pass by number.
    """
    descending = sort.startswith("-")
    if sort in ("expires", "-expires"):
        yield from _walk(conds + [Number.expires_at.is_not(None)], (_raw(Number.expires_at), Number.number),
                         descending)
        yield from _walk(conds + [Number.expires_at.is_(None)], (Number.number,), descending)
    elif sort == "country":
        yield from _walk(conds, (Number.country, Number.number), False)
    elif sort == "status":
        for status in STATUS_ORDER:
            yield from _walk(conds + [Number.status == status], (Number.number,), False)
    else:
        yield from _walk(conds, (Number.number,), descending)


def _walk(conds, keys, descending: bool):
    last = None
    key_count = len(keys)
    while True:
        stmt = _select(conds)
        if last is not None:
            row_value = sa.tuple_(*keys) if key_count > 1 else keys[0]
            bound = sa.tuple_(*last) if key_count > 1 else last[0]
            stmt = stmt.where(row_value < bound if descending else row_value > bound)
        order = [k.desc() for k in keys] if descending else list(keys)
        stmt = stmt.add_columns(*keys).order_by(*order).limit(CHUNK)
        rows = db.session.connection().execute(stmt).all()  # Core rows: no ORM layer per row
        if not rows:
            return
        for row in rows:
            yield row[:-key_count]
        last = rows[-1][-key_count:]
        if len(rows) < CHUNK:
            return


def generate_csv(conds, sort: str, currency: str):
    """Yield the CSV text in pieces: header first, then about 500 rows per piece."""
    price, names = _price_formatter(currency), _names()
    yield from csv_out.stream(COLUMNS, (_format(row, price, names) for row in _keyset_rows(conds, sort)))
