"""Period arithmetic of lifecycle.md §5: calendar months in the workspace's wall time."""
from calendar import monthrange
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def anchor_day_of(t: datetime, tz: str) -> int:
    """The day of month of `t` in the workspace time zone (the billing anchor)."""
    return t.astimezone(_zone(tz)).day


def next_expiry(t: datetime, months: int, anchor_day: int, tz: str) -> datetime:
    """`t` plus `months` calendar months on day min(anchor, days in month), same local time, in UTC.

    Anchor 31 gives Jan 31 → Feb 28 → Mar 31 with no drift, and the local time of day survives
    daylight-saving changes.
    """
    local = t.astimezone(_zone(tz))
    years, month0 = divmod(local.month - 1 + months, 12)
    year, month = local.year + years, month0 + 1
    day = min(anchor_day, monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(timezone.utc)


def iso_key(t: datetime) -> str:
    """The time as it appears in idempotency keys: YYYY-MM-DDTHH:MM:SSZ."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
