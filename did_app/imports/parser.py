"""Reading and checking a CSV import (lifecycle.md §3, interfaces.md "CSV columns").

Pure: bytes and a `Lookups` snapshot in, one `RowResult` per data row out. The service runs the few
queries that build the snapshot; nothing here touches the database. Every message names its row,
counting the header as row 1, and the cell it is about.
"""
import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import phonenumbers

from did_app import csv_out, money, parsing, phone
from did_app.errors import DomainError
from did_app.lifecycle.create import NumberSpec, default_capacity
from did_app.models.numbers import CAPACITY_MODES, FEATURES, NUMBER_TYPES, SMS_IN, VOICE_IN, features_mask
from did_app.numbers.edits import clean_description
from did_app.numbers.export import COLUMNS as EXPORT_COLUMNS
from did_app.registration.requirements import registration_required

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
KNOWN_COLUMNS = EXPORT_COLUMNS + ("setup_price", "needs_registration", "allow_additional_channels")
REQUIRED_COLUMNS = ("number", "monthly_price")
# derived on export, accepted and ignored on import; `status` only sorts out rows import can't create
DERIVED_COLUMNS = ("status", "expiring_soon", "verification", "identity", "created_at")
NOT_IMPORTABLE = {
    "terminated": "Row {n}: {number} is terminated in the file; import adds live numbers only.",
    "porting": "Row {n}: {number} is porting in the file; add it with a port-in request instead.",
}
YES, NO = {"yes", "true", "1", "y"}, {"no", "false", "0", "n"}
_TRIGGERS = csv_out.TRIGGERS  # the export's guard, undone in cell()
_AMOUNT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # as in descriptions (numbers/edits.py)
_MODE_CHANNELS = {"two_included": 2, "zero_included": 0, "metered": 0}


class FileError(DomainError):
    """The file as a whole can't be read; no row is checked."""

    def __init__(self, message: str):
        super().__init__(message, "file")


@dataclass
class Table:
    """The file's header and its non-blank records, each with its row number (header = row 1)."""
    columns: dict[str, int]  # column name → cell index
    width: int
    rows: list[tuple[int, list[str]]]


@dataclass(frozen=True)
class Pool:
    id: int
    name: str
    countries: frozenset
    unassigned: int


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    pool_id: int


@dataclass
class Lookups:
    """What the checks need from the database, read once per import."""
    currency: str
    time_zone: str
    default_country: str
    now: datetime
    voice_routes: dict[str, int] = field(default_factory=dict)  # lower-case name → id
    sms_routes: dict[str, int] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    pools: dict[int, Pool] = field(default_factory=dict)
    requirements: dict = field(default_factory=dict)
    existing: frozenset = frozenset()  # the file's numbers already in the inventory

    def pools_covering(self, country: str) -> list[Pool]:
        return [p for p in self.pools.values() if country in p.countries]


@dataclass
class Parsed:
    """A data row with its number read (once: phonenumbers is the costly part)."""
    row: int
    cells: list[str]
    raw: str
    number: object | None  # phonenumbers.PhoneNumber when valid
    e164: str | None = None


@dataclass
class RowResult:
    row: int
    number: str  # E.164 when it parsed, else the cell as typed
    outcome: str = "add"  # add, skip or error
    messages: list[str] = field(default_factory=list)
    spec: NumberSpec | None = None

    @property
    def rule(self) -> str:
        """ "rule → profile" that filled blanks, for the report."""
        if self.spec is None or not self.spec.rule_name:
            return ""
        return f"{self.spec.rule_name} → {self.spec.profile_name}"


# ---- the file --------------------------------------------------------------------------------

def read_table(data: bytes) -> Table:
    """Decode, detect the delimiter, check the header and collect the records.

    Raises FileError: too large, not UTF-8, empty, unknown/missing/repeated column, too many rows,
    or a quote that is not closed where its cell ends (naming the row where it opened).
    """
    if len(data) > MAX_BYTES:
        raise FileError("The file is larger than 20 MB.")
    text = _decode(data)
    # strict: a quote left open must not quietly swallow the rows after it. Without the size limit
    # (a process-wide setting, raised to the file's own limit) such a cell stops at 128 KB with a
    # vaguer error instead of reaching the end of the file, where strict mode names it.
    csv.field_size_limit(MAX_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    n = 0  # the last record read; the header is row 1
    try:
        header = next(reader, None)
        n = 1
        if header is None or not any(h.strip() for h in header):
            raise FileError("The file is empty: the first line must name the columns.")
        columns = _columns(header)
        rows = []
        # repeated cells (codes, names, "true") share one string: 100,000 exported rows hold ~2 M cells
        shared: dict[str, str] = {}
        for n, record in enumerate(reader, start=2):
            if not any(c.strip() for c in record):
                continue  # blank lines keep their row number but are not rows
            rows.append((n, [shared.setdefault(c, c) if len(c) <= 40 else c for c in record]))
            if len(rows) > MAX_ROWS:
                raise FileError("The file has more than 100,000 data rows.")
            if len(shared) > 50_000:
                shared.clear()  # unique values (numbers, descriptions) gain nothing from sharing
    except csv.Error as err:
        raise FileError(_broken_csv(str(err), n + 1, reader.line_num)) from None
    return Table(columns=columns, width=len(header), rows=rows)


def _broken_csv(error: str, row: int, line: int) -> str:
    """The message for a record the reader refused: `row` is the record it was reading."""
    if error == "unexpected end of data":
        return (f"Row {row}: a quote opens a cell and is never closed, so the rest of the file would run "
                "into that cell. Close the quote, or remove it.")
    if "expected after" in error:
        return (f"Row {row}: a quoted cell has more text after its closing quote (line {line}). Close each "
                'quote where its cell ends, and double a quote inside a quoted cell ("").')
    return f"The file is not valid CSV (line {line}: {error})."


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise FileError(f"The file is not valid UTF-8 (first bad byte at line {line}).") from None


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab: whichever the header line holds most of (comma on a tie)."""
    first = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=first.count)


def _columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, name in enumerate(printable(h).lower() for h in header):
        if not name:
            continue  # a trailing delimiter leaves an unnamed, ignored column
        if name not in KNOWN_COLUMNS:
            raise FileError(f"Unknown column '{name}'. Known columns: {', '.join(KNOWN_COLUMNS)}.")
        if name in columns:
            raise FileError(f"Column '{name}' appears twice.")
        columns[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise FileError(f"Missing required column '{name}'.")
    return columns


def printable(text: str) -> str:
    """The text trimmed, without NUL and other control characters (numbers.md §1, for every cell)."""
    text = text.strip()
    return text if text.isprintable() else _CONTROL.sub("", text).strip()


def cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    """A trimmed, printable cell ('' when the column or the cell is missing), with export's formula
    guard undone."""
    index = columns.get(name)
    if index is None or index >= len(cells):
        return ""
    value = cells[index].strip()
    if len(value) > 1 and value[0] == "'" and value[1] in _TRIGGERS:
        value = value[1:]  # numbers.md §7.8: export adds one ' before a trigger character
    return printable(value)  # after the guard: a tab or CR after the ' is one of its triggers


def read_numbers(table: Table, default_country: str, progress=None) -> list[Parsed]:
    """Each row's number parsed in the default country; `progress(done, total)` every 1,000 rows."""
    out = []
    total = len(table.rows)
    index = table.columns["number"]
    for i, (n, cells) in enumerate(table.rows, start=1):
        raw = printable(cells[index]) if index < len(cells) else ""
        number = phone.parse(raw, default_country) if raw else None
        out.append(Parsed(n, cells, raw, number, phone.e164(number) if number is not None else None))
        if progress and i % 1000 == 0:
            progress(i, total)
    return out


# ---- the rows --------------------------------------------------------------------------------

def check_rows(table: Table, parsed: list[Parsed], lookups: Lookups, *, skip_existing: bool,
               progress=None) -> list[RowResult]:
    """One outcome per row: the spec to add, a skip, or the row's error messages."""
    seen: dict[str, int] = {}
    results = []
    total = len(parsed)
    for i, p in enumerate(parsed, start=1):
        results.append(_check_row(p, table, lookups, seen, skip_existing))
        if progress and i % 1000 == 0:
            progress(i, total)
    _check_pool_channels(results, lookups)
    return results


def _check_row(p: Parsed, table: Table, lk: Lookups, seen: dict, skip_existing: bool) -> RowResult:
    n, cols = p.row, table.columns
    get = lambda name: cell(p.cells, cols, name)  # noqa: E731
    e164 = p.e164
    result = RowResult(n, e164 or p.raw)
    status = get("status").lower()
    if status in NOT_IMPORTABLE:
        return _outcome(result, "skip", NOT_IMPORTABLE[status].format(n=n, number=result.number))
    extra = [c for c in p.cells[table.width:] if c.strip()]
    if extra:
        return _outcome(result, "error", f"Row {n}: it has {len(p.cells)} cells; the header names {table.width}.")
    if not p.raw:
        return _outcome(result, "error", f"Row {n}: number is required.")
    if e164 is None:
        return _outcome(result, "error", f"Row {n}: '{p.raw}' is not a valid phone number.")
    if e164 in seen:
        return _outcome(result, "error", f"Row {n}: same number as row {seen[e164]}.")
    seen[e164] = n
    if e164 in lk.existing:
        return _outcome(result, "skip" if skip_existing else "error",
                        f"Row {n}: {e164} is already in the inventory.")
    errors: list[str] = []
    spec = _build_spec(n, p.number, e164, get, lk, errors)
    if errors:
        result.outcome, result.messages = "error", errors
    else:
        result.spec = spec
    return result


def _outcome(result: RowResult, outcome: str, message: str) -> RowResult:
    result.outcome, result.messages = outcome, [message]
    return result


def _build_spec(n: int, num, e164: str, get, lk: Lookups, errors: list) -> NumberSpec | None:
    """The number's spec from its cells, each checked as the add form checks it."""
    def err(message: str) -> None:
        errors.append(f"Row {n}: {message}")

    country = _country(num, get("country"), err)
    number_type = get("number_type").lower() or phone.type_of(num)
    if number_type not in NUMBER_TYPES:
        err(f"unknown number type '{get('number_type')}'.")
    region, city = _place(num, get("region"), get("city"), err)
    features = _features(get("features"), country, err)
    monthly = _price(get("monthly_price"), "monthly_price", lk.currency, err, required=True)
    setup = _price(get("setup_price"), "setup_price", lk.currency, err)
    cycles = _cycles(get("billing_cycles"), err)
    paid_until = _expires(get("expires_at"), lk, err)
    description = _description(get("description"), err)
    needs_registration = _flag(get("needs_registration"), "needs_registration", err)
    if needs_registration is None:
        needs_registration = registration_required(lk.requirements, country, number_type)
    allow = _flag(get("allow_additional_channels"), "allow_additional_channels", err)
    mode, channels = _capacity(get("capacity_mode"), get("channels_included"), number_type, err)
    allow = (True if allow is None else allow) and mode not in ("fixed", "metered")
    voice_id = _route(get("voice_route"), lk.voice_routes, "voice route", err)
    sms_id = _route(get("sms_route"), lk.sms_routes, "SMS route", err)
    if voice_id and features is not None and not features & VOICE_IN:
        err("This number does not support inbound voice.")
    if sms_id and features is not None and not features & SMS_IN:
        err("This number does not support inbound SMS.")
    group = _group(get("capacity_group"), country, allow, lk, err)
    dedicated, pool_id = _dedicated(get("dedicated_channels"), country, allow, group, lk, err)
    limit = _whole(get("capacity_limit"), 1, 32767, err,
                   "capacity_limit must be a whole number from 1 to 32,767, or blank.")
    reference = get("order_reference") or None
    if reference and len(reference) > 100:
        err("order_reference must be at most 100 characters.")
    if errors:
        return None
    return NumberSpec(
        number=e164, country=country, number_type=number_type, monthly_price_minor=monthly, region=region,
        city=city, features=features, needs_registration=needs_registration, capacity_mode=mode,
        channels_included=channels, allow_additional_channels=allow, setup_price_minor=setup or 0,
        billing_cycles_count=cycles, paid_until=paid_until, description=description, voice_route_id=voice_id,
        sms_route_id=sms_id, capacity_group_id=group.id if group else None, capacity_limit=limit,
        capacity_pool_id=pool_id, dedicated_channels=dedicated, order_reference=reference)


def _country(num, given: str, err) -> str:
    detected = phone.country_of(num)
    if not given:
        return detected
    given = given.upper()
    if given == phone.NON_GEO:
        matches = detected == phone.NON_GEO
    else:
        matches = phonenumbers.country_code_for_region(given) == num.country_code
    if not matches:
        err(f"country {given} does not match +{num.country_code}.")
    return given


def _place(num, region: str, city: str, err) -> tuple[str | None, str | None]:
    if not region or not city:
        detected_region, detected_city = _locate(num)
        region, city = region or detected_region, city or detected_city
    for name, value in (("region", region), ("city", city)):
        if value and len(value) > 100:
            err(f"{name} must be at most 100 characters.")
    return region or None, city or None


def _locate(num) -> tuple[str | None, str | None]:
    """phone.locate(), remembered per geocoder key. The geocoder reads at most the first
    GEOCODE_LONGEST_PREFIX digits, and the number's type and region decide whether it answers at
    all, so numbers sharing all three share the answer; imports are usually ranges (~250 µs saved
    per row)."""
    digits = phone.e164(num)[1:1 + _geocoder_prefix()]
    return _located(digits, phonenumbers.number_type(num), phone.country_of(num), num)


_LOCATED: dict = {}


def _located(digits: str, raw_type: int, country: str, num) -> tuple[str | None, str | None]:
    key = (digits, raw_type, country)
    if key not in _LOCATED:
        if len(_LOCATED) > 100_000:
            _LOCATED.clear()
        _LOCATED[key] = phone.locate(num)
    return _LOCATED[key]


def _geocoder_prefix() -> int:
    from phonenumbers import geocoder  # lazy, as in phone.locate(): ~100 MB, intake only

    return geocoder.GEOCODE_LONGEST_PREFIX


def _features(text: str, country: str, err) -> int | None:
    codes = [c.strip().lower() for c in text.split(";") if c.strip()]
    if not codes:
        return VOICE_IN
    unknown = [c for c in codes if c not in FEATURES]
    for code in unknown:
        err(f"unknown feature '{code}'.")
    if "cnam_out" in codes and country != "US":
        err("CNAM OUT is available for US numbers only.")
    return None if unknown else features_mask(codes)


def _price(text: str, name: str, currency: str, err, required: bool = False) -> int | None:
    if not text:
        if required:
            err(f"{name} is required.")
        return None
    if not _AMOUNT.match(text):
        err(f"{name} '{text}' is not an amount such as 12.50.")
        return None
    if text.startswith("-"):
        err(f"{name} can't be negative.")
        return None
    try:
        return money.parse(text, currency)
    except DomainError:
        err(f"{name} '{text}' uses more than {money.exponent(currency)} decimal places.")
        return None


def _cycles(text: str, err) -> int | None:
    if not text or text.lower() == "unlimited":
        return None
    return _whole(text, 0, 999, err, "billing_cycles must be 'unlimited' or 0–999.")


def _whole(text: str, low: int, high: int, err, message: str) -> int | None:
    if not text:
        return None
    value = parsing.query_int(text, low, high)  # ASCII digits only: "²" or 5,000 digits are refused
    if value is None:
        err(message)
    return value


def _expires(text: str, lk: Lookups, err) -> datetime | None:
    """ISO date (00:00 in the workspace time zone) or date-time (naive = workspace time zone)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), datetime.min.time(), ZoneInfo(lk.time_zone))
        else:
            value = datetime.fromisoformat(text)
            if value.tzinfo is None:
                value = value.replace(tzinfo=ZoneInfo(lk.time_zone))
    except ValueError:
        err(f"expires_at '{text}' is not an ISO date or date-time.")
        return None
    value = value.astimezone(timezone.utc)
    if value <= lk.now:
        err("expires_at must be in the future.")
        return None
    return value


def _description(text: str, err) -> str | None:
    try:
        return clean_description(text)
    except DomainError:
        err("description must be at most 255 characters.")
        return None


def _flag(text: str, name: str, err) -> bool | None:
    value = text.lower()
    if not value:
        return None
    if value in YES or value in NO:
        return value in YES
    err(f"{name} must be yes or no.")
    return None


def _capacity(mode_text: str, channels_text: str, number_type: str, err) -> tuple[str | None, int | None]:
    """The mode given, else derived from channels_included (2, 0, else fixed), else the type's."""
    mode = mode_text.lower() or None
    if mode is not None and mode not in CAPACITY_MODES:
        err(f"unknown capacity mode '{mode_text}'.")
        return None, None
    channels = _whole(channels_text, 0, 32767, err, "channels_included must be a whole number from 0 to 32,767.")
    if channels_text and channels is None:
        return mode, None
    if mode is None:
        if channels is None:
            return default_capacity(number_type if number_type in NUMBER_TYPES else "local")
        mode = {2: "two_included", 0: "zero_included"}.get(channels, "fixed")
    expected = _MODE_CHANNELS.get(mode)
    if channels is None:
        channels = 300 if expected is None else expected
    elif expected is not None and channels != expected:
        err(f"channels_included must be {expected} for {mode}.")
    return mode, channels


def _route(name: str, table: dict[str, int], label: str, err) -> int | None:
    if not name:
        return None
    route_id = table.get(name.lower())
    if route_id is None:
        err(f"{label} '{name}' not found.")
    return route_id


def _group(name: str, country: str, allow: bool, lk: Lookups, err) -> Group | None:
    if not name:
        return None
    group = lk.groups.get(name.lower())
    if group is None:
        err(f"capacity group '{name}' not found.")
        return None
    if not allow:
        err("This number cannot take additional channels.")
    elif country not in lk.pools[group.pool_id].countries:
        err(f"Capacity group {group.name} uses pool {lk.pools[group.pool_id].name}, which does not cover {country}.")
    return group


def _dedicated(text: str, country: str, allow: bool, group: Group | None, lk: Lookups, err) -> tuple[int, int | None]:
    """(channels, pool id): the only pool covering the country, or the capacity group's among several."""
    count = _whole(text, 0, 32767, err, "dedicated_channels must be a whole number from 0 to 32,767.")
    if not count:
        return 0, None
    if not allow:
        err("This number cannot take additional channels.")
        return 0, None
    covering = lk.pools_covering(country)
    if len(covering) == 1:
        return count, covering[0].id
    if group is not None and any(p.id == group.pool_id for p in covering):
        return count, group.pool_id
    err(f"dedicated_channels needs a pool; {len(covering)} pools cover {country}.")
    return 0, None


def _check_pool_channels(results: list[RowResult], lk: Lookups) -> None:
    """Rows take dedicated channels in file order; a row the pool can't serve is an error."""
    free = {pool_id: pool.unassigned for pool_id, pool in lk.pools.items()}
    for r in results:
        spec = r.spec
        if spec is None or not spec.dedicated_channels:
            continue
        pool_id, needed = spec.capacity_pool_id, spec.dedicated_channels
        if needed > free[pool_id]:
            r.outcome, r.spec = "error", None
            r.messages = [f"Row {r.row}: Pool {lk.pools[pool_id].name} has {free[pool_id]} unassigned channels; "
                          f"{needed} are needed."]
        else:
            free[pool_id] -= needed


def pool_needs(results: list[RowResult]) -> dict[int, int]:
    """{pool id: dedicated channels the rows to add take}."""
    needs: dict[int, int] = {}
    for r in results:
        if r.spec is not None and r.spec.dedicated_channels:
            needs[r.spec.capacity_pool_id] = needs.get(r.spec.capacity_pool_id, 0) + r.spec.dedicated_channels
    return needs
