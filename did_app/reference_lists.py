"""The currency, country and time-zone lists the settings forms offer (issue 8 §6).

Built once from Babel's CLDR data and phonenumbers' regions, so they need no upkeep of our own:
- currencies: only those some territory uses as legal tender today (no "ADP — Andorran Peseta");
- countries: only regions with a telephone numbering plan (no "Pseudo-Accents", "European Union");
- time zones: CLDR's canonical IANA names (no "Factory", "US/Eastern" or "Asia/Calcutta"), plus UTC.
A stored value that has left a list is still offered as the current value (`with_current`), so an
unchanged settings form always saves.
"""
from datetime import date

import phonenumbers
from babel import Locale
from babel.core import get_global
from babel.numbers import get_territory_currencies

_EN = Locale("en")
# a fixed day keeps the list stable across runs; currencies change far more slowly than releases
_AS_OF = date(2026, 1, 1)

_REGIONS = sorted(code for code in phonenumbers.SUPPORTED_REGIONS if code in _EN.territories)

CURRENCY_CODES = frozenset(code for region in _REGIONS
                           for code in get_territory_currencies(region, _AS_OF, tender=True))
COUNTRY_CODES = frozenset(_REGIONS)
# CLDR lists "Etc/Unknown" for zones it cannot name; IANA has no such zone
TIME_ZONE_NAMES = (frozenset(get_global("zone_territories")) - {"Etc/Unknown"}) | {"UTC"}


def currency_label(code: str) -> str:
    return f"{code} — {_EN.currencies.get(code, code)}"


CURRENCY_CHOICES = [(c, currency_label(c)) for c in sorted(CURRENCY_CODES)]
COUNTRY_CHOICES = sorted(((c, _EN.territories[c]) for c in COUNTRY_CODES), key=lambda c: c[1])
TIME_ZONE_CHOICES = [(z, z) for z in sorted(TIME_ZONE_NAMES)]


def with_current(choices: list[tuple[str, str]], current: str | None, label=None) -> list[tuple[str, str]]:
    """`choices`, with the stored value first when it is no longer on the list."""
    if not current or any(value == current for value, _ in choices):
        return choices
    shown = label(current) if label else current
    return [(current, f"{shown} (current, no longer listed)"), *choices]
