"""Money in integer minor units of the workspace currency; parsing with Decimal, never float."""
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, get_currency_precision

from did_app import parsing
from did_app.errors import DomainError


def exponent(currency: str) -> int:
    return get_currency_precision(currency)


def to_major(minor: int, currency: str) -> Decimal:
    return (Decimal(minor) / (Decimal(10) ** exponent(currency))).quantize(
        Decimal(1).scaleb(-exponent(currency)))


def format_money(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    # "en", the locale the dates use too: each loaded locale costs a worker about 2 MB
    return format_currency(to_major(minor, currency), currency, locale="en")


def plain(minor: int, currency: str) -> str:
    """Decimal in major units with the currency's digits, no symbol ("1.50")."""
    return str(to_major(minor, currency))


def parse(text: str, currency: str, field: str | None = None) -> int:
    """Major-unit text to minor units; too many decimals is an error, not a rounding.

    Raises DomainError for text that is no plain decimal below 10¹² (parsing.query_decimal).
    """
    value = parsing.query_decimal(str(text))
    if value is None:
        raise DomainError("Enter an amount such as 12.50.", field)
    digits = exponent(currency)
    if value != value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP):
        raise DomainError(f"Use at most {digits} decimal places.", field)
    return int(value.scaleb(digits))
