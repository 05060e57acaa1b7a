"""Jinja filters: display time zone, money, numbers. Formatting lives here, not in SQL."""
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from flask import g

from did_app import money, phone, reference_lists
from did_app.workspace import current_workspace

_EN = Locale("en")
LOCALE = "en"  # "5 Dec 2026", as the spec writes dates


def _ws():
    return g.workspace if "workspace" in g else current_workspace()


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(dt: datetime | None) -> datetime | None:
    return dt.astimezone(_zone(_ws().time_zone)) if dt else None


def fmt_datetime(dt: datetime | None) -> str:
    return format_datetime(local(dt), "d MMM yyyy, HH:mm", locale=LOCALE) if dt else ""


@lru_cache(maxsize=4096)
def _date_text(day) -> str:
    return format_date(day, "d MMM yyyy", locale=LOCALE)


def fmt_date(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value).date()
    return _date_text(value)


def local_date(dt: datetime, ws) -> str:
    """A UTC instant as a date in `ws`'s time zone, without a request (services, jobs)."""
    return _date_text(dt.astimezone(_zone(ws.time_zone)).date())


@lru_cache(maxsize=4096)
def _money_text(minor: int, currency: str) -> str:
    return money.format_money(minor, currency)


def fmt_money(minor: int | None) -> str:
    return "" if minor is None else _money_text(minor, _ws().currency)


@lru_cache(maxsize=512)
def country_name(code: str | None) -> str:
    if not code:
        return ""
    if code == phone.NON_GEO:
        return "International"
    return _EN.territories.get(code, code)


# ---- routes (configuration.md §2–§4) ----

def percent(share: float | None) -> str:
    if share is None:
        return "—"
    return f"{share:.1f}".rstrip("0").rstrip(".") + "%"


def sms_summary(trunk) -> str:
    """Where an SMS trunk delivers, in one line for the list and group pages."""
    s = trunk.settings or {}
    if trunk.trunk_kind == "sms_to_email":
        return s.get("send_to") or ""
    if trunk.trunk_kind == "http_in":
        return f"{s.get('method') or 'GET'} {s.get('url') or ''}"
    if trunk.trunk_kind == "smpp_esme":
        return f"System ID {s.get('system_id') or ''} · {s.get('server_location') or ''}"
    if trunk.trunk_kind == "smpp_smsc":
        tls = " · TLS" if s.get("use_tls") else ""
        return f"{s.get('host') or ''}:{s.get('tx_port') or ''}/{s.get('rx_port') or ''}{tls}"
    return ""


def masked_pairs(pairs) -> list[dict]:
    """An HTTP-in trunk's headers or query parameters for a reader: the names, each set value as
    "•••• set" (tokens live there); operators see the values on the trunk's form."""
    return [{"key": p.get("key"), "value": "•••• set" if p.get("value") else ""} for p in pairs or []]


def register(app) -> None:
    app.jinja_env.filters.update(
        datetime=fmt_datetime, date=fmt_date, money=fmt_money, country_name=country_name,
        percent=percent, sms_summary=sms_summary, masked_pairs=masked_pairs,
        phone=phone.display, currency_name=reference_lists.currency_label, iso=lambda dt: dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else "")
