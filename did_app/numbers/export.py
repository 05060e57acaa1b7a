"""CSV export of My Numbers (numbers.md §7.8): streamed, keyset-paged, formula-safe."""
import csv
import io
import re

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from did_app import money
from did_app.db import db
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

COLUMNS = ("number", "country", "region", "city", "number_type", "status", "expiring_soon",
           "expires_at", "billing_cycles", "description", "voice_route", "sms_route", "capacity_mode",
           "channels_included", "dedicated_channels", "capacity_group", "capacity_limit", "identity",
           "verification", "features", "order_reference", "monthly_price", "created_at")
_E164 = re.compile(r"^\+[0-9]{6,15}$")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def safe_cell(value) -> str:
    """A leading ' on cells a spreadsheet would run; whole E.164 numbers and decimals stay."""
    text = "" if value is None else str(value)
    if text.startswith(_TRIGGERS) and not _E164.match(text) and not _DECIMAL.match(text):
        return "'" + text
    return text


def _iso(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else ""


_vr = aliased(VerificationRequest)


def _select(conds):
    identity_name = sa.case((Identity.identity_type == "business", Identity.company_name),
                            else_=Identity.first_name + " " + Identity.last_name)
    verification = sa.case(
        (Number.needs_registration.is_(False), "not_required"),
        (Number.awaiting_registration.is_(False), "approved"),
        (Number.verification_request_id.is_(None), "missing"),
        else_=_vr.status)
    order_ref = sa.case((Number.porting.is_(True), PortInRequest.reference),
                        else_=sa.func.coalesce(Order.external_reference, Order.reference))
    return (sa.select(
        Number.number, Number.country, Number.region, Number.city, Number.number_type, Number.status,
        Number.expiring_soon, Number.expires_at, Number.billing_cycles_count, Number.description,
        VoiceRoute.name, SmsRoute.name, Number.capacity_mode, Number.channels_included,
        Number.dedicated_channels, CapacityGroup.name, Number.capacity_limit, identity_name,
        verification, Number.features, order_ref, Number.monthly_price_minor, Number.created_at)
        .outerjoin(VoiceRoute, VoiceRoute.id == Number.voice_route_id)
        .outerjoin(SmsRoute, SmsRoute.id == Number.sms_route_id)
        .outerjoin(CapacityGroup, CapacityGroup.id == Number.capacity_group_id)
        .outerjoin(Identity, Identity.id == Number.identity_id)
        .outerjoin(_vr, _vr.id == Number.verification_request_id)
        .outerjoin(Order, Order.id == Number.order_id)
        .outerjoin(PortInRequest, PortInRequest.id == Number.port_in_request_id)
        .where(*conds))


def _format(row, currency: str) -> list[str]:
    (number, country, region, city, ntype, status, expiring, expires_at, cycles, description,
     voice, sms, mode, included, dedicated, group, limit, identity, verification, features,
     order_ref, price, created_at) = row
    cells = [number, country, region, city, ntype, status, "true" if expiring else "false",
             _iso(expires_at), "unlimited" if cycles is None else cycles, description, voice, sms, mode,
             included, dedicated, group, limit, identity, verification,
             ";".join(features_codes(features)), order_ref, money.plain(price, currency),
             _iso(created_at)]
    return [safe_cell(c) for c in cells]


def _keyset_rows(conds, sort: str):
    """All matching rows in the table's order, read by keyset pages of CHUNK rows.

    Row values never match NULL, so rows without expires_at stream in a second pass by number.
    """
    descending = sort.startswith("-")
    if sort in ("expires", "-expires"):
        yield from _walk(conds + [Number.expires_at.is_not(None)], (Number.expires_at, Number.number), descending)
        yield from _walk(conds + [Number.expires_at.is_(None)], (Number.number,), descending)
    elif sort == "country":
        yield from _walk(conds, (Number.country, Number.number), False)
    elif sort == "status":
        from did_app.numbers.queries import STATUS_ORDER
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
        rows = db.session.execute(stmt).all()
        if not rows:
            return
        for row in rows:
            yield row[:-key_count]
        last = rows[-1][-key_count:]
        if len(rows) < CHUNK:
            return


def generate_csv(conds, sort: str, currency: str):
    """Yield the CSV text in pieces: header first, then about CHUNK rows per piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in _keyset_rows(conds, sort):
        writer.writerow(_format(row, currency))
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
