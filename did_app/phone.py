"""E.164 parsing and display through phonenumbers.

The geocoder (region and city) costs about 100 MB, so it is imported lazily in `locate()` only.
"""
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

NON_GEO = "001"
TYPE_MAP = {
    PhoneNumberType.FIXED_LINE: "local", PhoneNumberType.FIXED_LINE_OR_MOBILE: "local",
    PhoneNumberType.MOBILE: "mobile", PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.TOLL_FREE: "toll_free",
}


def parse(text: str, default_country: str | None = None):
    """A valid PhoneNumber, or None."""
    try:
        num = phonenumbers.parse(text, default_country)
    except phonenumbers.NumberParseException:
        return None
    return num if phonenumbers.is_valid_number(num) else None


def e164(num) -> str:
    return phonenumbers.format_number(num, PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def display(e164_text: str) -> str:
    """International format, "+1 415-555-2671"."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164_text), PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164_text


def country_of(num) -> str:
    region = phonenumbers.region_code_for_number(num)
    return NON_GEO if region in (None, "001", "ZZ") else region


def type_of(num) -> str:
    if num.country_code == 800:
        return "global"
    detected = TYPE_MAP.get(phonenumbers.number_type(num), "national")
    if num.country_code == 1 and detected not in ("toll_free", "shared_cost"):
        return "local"  # NANP can't tell fixed from mobile
    return detected


def locate(num) -> tuple[str | None, str | None]:
    """(region, city) from the geocoder: "San Francisco, CA" splits at the last comma."""
    from phonenumbers import geocoder  # lazy: ~100 MB, intake only

    text = geocoder.description_for_number(num, "en") or ""
    country_name = geocoder.country_name_for_number(num, "en")
    if not text or text == country_name:
        return None, None
    if "," in text:
        city, region = text.rsplit(",", 1)
        return region.strip() or None, city.strip() or None
    return None, text.strip()
