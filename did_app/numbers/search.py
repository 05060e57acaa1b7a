"""Reading the search box: description words, a pasted list of numbers, or a fragment (numbers.md §7.6)."""
import re
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
import sqlalchemy as sa

from did_app import phone
from did_app.db import chunked, db
from did_app.models import Number

MAX_ITEMS = 10_000
MAX_ITEM_CHARS = 64  # no phone number is longer: such an item is reported, never parsed or stored
MAX_WORDS = 50  # a description holds at most 255 characters; SQLite refuses ~1,000 ANDs anyway
# beyond these the search box posts and the list is stored (a URL can't carry it)
GET_MAX_ITEMS, GET_MAX_CHARS = 100, 2000
_SPLIT = re.compile(r"[\n\r,;\t]+")
_STRIP = re.compile(r"[()\-./]")
_LETTER = re.compile(r"[^\W\d_]")
_PREFIX = re.compile(r"^(?:tel|sip):", re.IGNORECASE)


@dataclass
class SearchPlan:
    kind: str | None = None           # "description", "numbers", "fragment" or None (empty)
    words: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)       # E.164, de-duplicated, in paste order
    unrecognised: list[str] = field(default_factory=list)  # as typed (shortened past 64 characters)
    fragment: str | None = None
    too_many: bool = False
    notes: list[str] = field(default_factory=list)  # shown above the table

    @property
    def item_count(self) -> int:
        return len(self.numbers) + len(self.unrecognised)


def split_items(text: str, default_country: str | None = None, limit: int | None = None) -> list[str]:
    """The paste's items, per §7.6 step 2, at most `limit` of them: each chunk with its tel:/sip:
    prefix and punctuation removed (split on its spaces only when every part is a number); a chunk
    with spaces or letters that is no number, such as "+1 512 240 772" or a column heading, as
    one item as typed."""
    country = default_country or "US"
    items = []
    for chunk in _SPLIT.split(text):
        items.extend(_chunk_items(chunk, country))
        if limit is not None and len(items) >= limit:
            return items[:limit]
    return items


def _chunk_items(chunk: str, country: str) -> list[str]:
    raw = " ".join(chunk.split())
    cleaned = " ".join(_STRIP.sub("", _PREFIX.sub("", raw)).split())
    if not cleaned:
        return []
    if not _LETTER.search(cleaned):  # letters (a heading, "ext", 1-800-FLOWERS) never make a number
        if " " not in cleaned:
            return [cleaned if len(cleaned) <= MAX_ITEM_CHARS else shortened(raw)]
        joined = cleaned.replace(" ", "")
        if _valid(joined, country):
            return [joined]
        parts = cleaned.split(" ")
        # past the item limit the paste is refused whatever the parts are: don't parse them all
        if len(parts) > MAX_ITEMS or all(_valid(part, country) for part in parts):
            return parts
    return [raw if len(raw) <= MAX_ITEM_CHARS else shortened(raw)]


def shortened(raw: str) -> str:
    """What the report shows (and a saved list keeps) of an item too long to be a number: only its
    length, none of its text, so a huge paste is neither stored nor echoed back."""
    return f"(an item of {len(raw):,} characters)"


def _valid(item: str, country: str) -> bool:
    return len(item) <= MAX_ITEM_CHARS and bool(_readings(item, country))


def _item_readings(item: str, country: str) -> tuple[str, ...]:
    """The readings of one split item. An item kept as typed (letters or spaces, or shortened)
    has none: phonenumbers alone would find a number in "Number +14155552671"."""
    if " " in item or len(item) > MAX_ITEM_CHARS or _LETTER.search(item):
        return ()
    return _readings(item, country)


def _read_international(item: str) -> str | None:
    text = "+" + item[2:] if item.startswith("00") else item if item.startswith("+") else "+" + item
    num = phone.parse(text)
    return phone.e164(num) if num is not None else None


@lru_cache(maxsize=100_000)
def _readings(item: str, default_country: str) -> tuple[str, ...]:
    """Valid E.164 readings of one item: international first, then national (cached: parsing
    is the slow part of a 10,000-number paste, and the same lists come back)."""
    if item.startswith("+") or item.startswith("00"):
        found = _read_international(item)
        return (found,) if found else ()
    readings = []
    intl = _read_international(item)
    if intl:
        readings.append(intl)
    national = phone.parse(item, default_country)
    if national is not None and phone.e164(national) not in readings:
        readings.append(phone.e164(national))
    return tuple(readings)


def _in_inventory(candidates: set[str]) -> set[str]:
    found = set()
    for part in chunked(sorted(candidates)):
        found.update(db.session.scalars(sa.select(Number.number).where(Number.number.in_(part))))
    return found


def interpret(text: str | None, default_country: str) -> SearchPlan:
    """Turn the search box text into a plan; looks up the inventory only for ambiguous items."""
    text = (text or "").strip()
    if not text:
        return SearchPlan()
    items = split_items(text, default_country, limit=MAX_ITEMS + 1)
    # a letter makes a description search only when no chunk reads as a number (§7.6 step 1)
    if _LETTER.search(text) and not any(_item_readings(item, default_country) for item in items):
        return _description_search(text)
    if len(items) > MAX_ITEMS:
        return SearchPlan(kind="numbers", too_many=True)
    return resolve_items(items, default_country)


def _description_search(text: str) -> SearchPlan:
    words, seen = [], set()
    for word in text.split():
        if word.lower() not in seen:  # lower(), as ILIKE compares
            seen.add(word.lower())
            words.append(word)
    plan = SearchPlan(kind="description", words=words[:MAX_WORDS])
    if len(words) > MAX_WORDS:
        plan.notes.append(f"Searched for the first {MAX_WORDS} words only.")
    return plan


def resolve_items(items: list[str], default_country: str) -> SearchPlan:
    readings = [(item, _item_readings(item, default_country)) for item in items]
    ambiguous = {r for _, rs in readings if len(rs) == 2 for r in rs}
    present = _in_inventory(ambiguous) if ambiguous else set()
    plan = SearchPlan(kind="numbers")
    seen, unrecognised = set(), set()
    for item, rs in readings:
        if not rs:
            if item not in unrecognised:
                unrecognised.add(item)
                plan.unrecognised.append(item)
            continue
        chosen = rs[0]
        if len(rs) == 2 and (rs[1] in present) and (rs[0] not in present):
            chosen = rs[1]
        if chosen not in seen:
            seen.add(chosen)
            plan.numbers.append(chosen)
    digits = re.sub(r"\D", "", items[0]) if len(items) == 1 else ""
    if len(items) == 1 and not plan.numbers and len(digits) >= 3:
        return SearchPlan(kind="fragment", fragment=digits)
    return plan


def needs_post(text: str) -> bool:
    """Long pastes go through POST and a saved list instead of the URL."""
    return len(text) > GET_MAX_CHARS or len(_SPLIT.split(text.strip())) > GET_MAX_ITEMS


def is_valid_e164(text: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text))
    except phonenumbers.NumberParseException:
        return False
