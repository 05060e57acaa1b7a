"""The one place that turns user text into integers, ids, versions and dates.

Every query string and form goes through these helpers (the WTForms fields in `form_fields`
call them too), so a value the app can't store or compute with never reaches a service, the
database or date arithmetic:

- ASCII digits only. `str.isdigit()` accepts "²" and "①", which `int()` refuses, and `int()`
  accepts "١٢" and "1_000"; both are refused here.
- At most 19 digits, so Python's 4,300-digit `int()` limit is never reached.
- Ids are 1 … 2⁶³ − 1, the range of SQLite INTEGER and PostgreSQL BIGINT.
- Decimals (money, rates) are plain: no exponent, NaN or Infinity, at most 12 integer digits.
- Dates are ISO `YYYY-MM-DD` between 1900-01-01 and 9000-12-31, so a day or a year added to one
  never overflows.

Each parser returns None for blank or refused text. `QueryArgs` reads a query string with them
and names every refused value in `ignored`, for the page's "Ignored unknown filter value" note.
"""
import re
from datetime import date
from decimal import Decimal

# ids are INTEGER columns: on PostgreSQL a larger value bound to one is an error ("integer out of
# range"), not a miss, so such text is refused here like any other unreadable id
MAX_ID = 2**31 - 1
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(9000, 12, 31)
MAX_PAGE = 1_000_000
IGNORED_NOTE = "Ignored unknown filter value: {item}"
VERSION_MESSAGE = "This form is out of date or incomplete. Reload the page and try again."

_INT = re.compile(r"(-?)([0-9]{1,19})", re.ASCII)
_DECIMAL = re.compile(r"[-+]?(?:[0-9]{1,12}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ECHO = 60  # characters of a refused value the note repeats


def query_int(raw, lo: int, hi: int) -> int | None:
    """The whole number in `raw` if it is within lo…hi, else None.

    `raw` may be a str (surrounding whitespace is ignored), an int (not a bool) or None. A minus
    sign is accepted only when `lo` is negative.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        match = _INT.fullmatch(raw.strip())
        if match is None or (match.group(1) and lo >= 0):
            return None
        value = int(match.group(0))
    else:
        return None
    return value if lo <= value <= hi else None


def query_id(raw) -> int | None:
    """A database id (1 … 2⁶³ − 1) or None."""
    return query_int(raw, 1, MAX_ID)


def form_version(raw) -> int | None:
    """The `version` a form was rendered with (0 … 2⁶³ − 1), or None when missing or invalid.
    A well-formed version that is not the row's is stale (409), not invalid."""
    return query_int(raw, 0, MAX_ID)


def query_decimal(raw) -> Decimal | None:
    """A plain decimal such as "12.50", "-3" or ".5" (ASCII digits, at most 12 before and 15 after
    the point: no exponent, NaN or Infinity, so quantize() and minor units never overflow), or None."""
    if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw.strip()):
        return None
    return Decimal(raw.strip())


def query_date(raw) -> date | None:
    """An ISO date (YYYY-MM-DD, ASCII digits) between MIN_DATE and MAX_DATE, or None."""
    if isinstance(raw, date):
        value = raw
    elif isinstance(raw, str) and _DATE.fullmatch(raw.strip()):
        try:
            value = date.fromisoformat(raw.strip())
        except ValueError:  # 2026-02-30
            return None
    else:
        return None
    return value if MIN_DATE <= value <= MAX_DATE else None


def clean_text(raw) -> str:
    """`raw` without NUL and other control characters (PostgreSQL refuses NUL in any text)."""
    return _CONTROL.sub("", raw) if isinstance(raw, str) else ""


def ignored_item(key: str, raw) -> str:
    """`key=value` for the "Ignored unknown filter value" note, with a long value cut short."""
    text = clean_text(str(raw))
    return f"{key}={text[:_ECHO]}…" if len(text) > _ECHO else f"{key}={text}"


class QueryArgs:
    """Typed reads of a query string (a MultiDict such as `request.args`).

    A value that is present but refused reads as the default and is named in `ignored`
    ("page=²"); a blank one reads as the default silently. Pages show `ignored` with
    IGNORED_NOTE and answer 200: a bad filter never costs the user the page.
    """

    def __init__(self, args):
        self.args = args
        self.ignored: list[str] = []

    def _raw(self, key: str) -> str:
        return (self.args.get(key) or "").strip()

    def _refuse(self, key: str, raw: str, default):
        self.ignored.append(ignored_item(key, raw))
        return default

    def text(self, key: str, max_len: int = 200) -> str:
        """Trimmed text without control characters, cut to `max_len` characters."""
        return clean_text(self._raw(key))[:max_len]

    def number(self, key: str, lo: int, hi: int, default=None):
        """A whole number within lo…hi, else `default`."""
        raw = self._raw(key)
        if not raw:
            return default
        value = query_int(raw, lo, hi)
        return self._refuse(key, raw, default) if value is None else value

    def id(self, key: str) -> int | None:
        """A database id, else None."""
        return self.number(key, 1, MAX_ID)

    def page(self, key: str = "page") -> int:
        """A page number (1 … MAX_PAGE), else 1."""
        return self.number(key, 1, MAX_PAGE, 1)

    def day(self, key: str) -> date | None:
        """An ISO date within MIN_DATE…MAX_DATE, else None."""
        raw = self._raw(key)
        if not raw:
            return None
        value = query_date(raw)
        return self._refuse(key, raw, None) if value is None else value

    def choice(self, key: str, choices, default: str = "") -> str:
        """One of `choices` (exact match), else `default`."""
        raw = self._raw(key)
        if not raw:
            return default
        return raw if raw in choices else self._refuse(key, raw, default)

    def notes(self) -> list[str]:
        """The visible notes for the refused values."""
        return [IGNORED_NOTE.format(item=item) for item in self.ignored]
