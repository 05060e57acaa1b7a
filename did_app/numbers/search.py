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
# beyond these the search box posts and the list is stored (a URL can't carry it)
GET_MAX_ITEMS, GET_MAX_CHARS = 100, 2000
_SPLIT = re.compile(r"[\n\r,;\t]+")
_STRIP = re.compile(r"[()\-./]")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class SearchPlan:
    kind: str | None = None           # "description", "numbers", "fragment" or None (empty)
    words: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)       # E.164, de-duplicated, in paste order
    unrecognised: list[str] = field(default_factory=list)  # raw text
    fragment: str | None = None
    too_many: bool = False

    @property
    def item_count(self) -> int:
        return len(self.numbers) + len(self.unrecognised)


def split_items(text: str, default_country: str | None = None) -> list[str]:
    """Chunks of the paste, per §7.6 step 2: split, strip punctuation, then spaces."""
    items = []
    for chunk in _SPLIT.split(text):
        chunk = _STRIP.sub("", chunk).strip()
        if not chunk:
            continue
        if " " in chunk:
            joined = chunk.replace(" ", "")
            if _readings(joined, default_country or "US"):
                items.append(joined)
            else:
                items.extend(part for part in chunk.split(" ") if part)
        else:
            items.append(chunk)
    return items


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
    if _LETTER.search(text):
        return SearchPlan(kind="description", words=text.split())
    items = split_items(text, default_country)
    if len(items) > MAX_ITEMS:
        return SearchPlan(kind="numbers", too_many=True)
    return resolve_items(items, default_country)


def resolve_items(items: list[str], default_country: str) -> SearchPlan:
    readings = [(item, _readings(item, default_country)) for item in items]
    ambiguous = {r for _, rs in readings if len(rs) == 2 for r in rs}
    present = _in_inventory(ambiguous) if ambiguous else set()
    plan = SearchPlan(kind="numbers")
    seen = set()
    for item, rs in readings:
        if not rs:
            if item not in plan.unrecognised:
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
