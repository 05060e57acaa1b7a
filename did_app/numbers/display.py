"""How a number reads in the table and on its page: time left, routes, capacity, renewal.

Pure functions of a loaded number, the workspace settings and `now`; Jinja calls them.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.dates import format_timedelta

from did_app import filters
from did_app.models.numbers import CAPACITY_MODES, FEATURES, NUMBER_TYPES, STATUSES
from did_app.rules import renewal


@dataclass
class TimeLeft:
    text: str
    tone: str = "neutral"  # neutral / warn / critical
    tooltip: str = ""


def verification_state(n) -> str:
    if not n.needs_registration:
        return "not_required"
    if not n.awaiting_registration:
        return "approved"
    if n.verification_request_id is None:
        return "missing"
    return n.verification_request.status


def renewal_at_risk(n, ws) -> bool:
    """The balance won't reach this renewal (lifecycle.md §10): its expiry is at/after the cutoff."""
    return renewal.at_risk(n, ws.renewal_risk_cutoff_at)


def _span(delta: timedelta) -> str:
    if delta >= timedelta(hours=48):
        days = delta.days
        return f"{days} days"
    if delta >= timedelta(hours=1):
        hours = int(delta.total_seconds() // 3600)
        return f"{hours} hours" if hours != 1 else "1 hour"
    return "under 1 hour"


def _tone_for(delta: timedelta, ws) -> str:
    if delta <= timedelta(days=ws.critical_days):
        return "critical"
    if delta <= timedelta(days=ws.warn_days):
        return "warn"
    return "neutral"


price_of_next_renewal = renewal.renewal_price


def time_left(n, ws, now: datetime) -> TimeLeft:
    """The Time left cell, numbers.md §5."""
    if n.porting:
        return TimeLeft("Starts when the port completes")
    if n.expired_at is not None:
        removal = n.expired_at + timedelta(days=ws.aging_pool_days)
        days = max(0, (removal - now).days)
        return TimeLeft(f"Expired · removed in {days} days", "critical",
                        f"Removed on {filters.fmt_date(removal)}")
    if n.cancelled_at is not None:
        window_end = n.cancelled_at + timedelta(days=ws.restore_window_days)
        if n.expires_at and n.expires_at > now:
            tone = "warn" if window_end - now <= timedelta(days=ws.warn_days) else "neutral"
            return TimeLeft(f"Cancelled · restore free until {filters.fmt_date(min(n.expires_at, window_end))}",
                            tone, f"Restore window ends {filters.fmt_date(window_end)}")
        tone = _tone_for(window_end - now, ws)
        return TimeLeft(f"Cancelled · restore by {filters.fmt_date(window_end)} "
                        f"({filters.fmt_money(price_of_next_renewal(n))})",
                        "critical" if tone == "critical" else "warn")
    if n.expires_at is None:
        return TimeLeft("—")
    delta = n.expires_at - now
    absolute = filters.fmt_datetime(n.expires_at)
    if delta <= timedelta(0):
        return TimeLeft("Renewal due", "warn", f"Expired at {absolute}; the renewal job has not run yet")
    why = renewal.wont_renew_reason(n, ws.renewal_risk_cutoff_at)
    if why is not None:
        suffix = "won't renew" if why == renewal.CYCLES_ZERO else "balance short"
        return TimeLeft(f"{_span(delta)} · {suffix}", _tone_for(delta, ws), f"Expires {absolute}")
    return TimeLeft(_span(delta), "neutral",
                    f"Renews {filters.fmt_date(n.expires_at)} for {filters.fmt_money(price_of_next_renewal(n))}")


def relative(dt: datetime, now: datetime) -> str:
    return format_timedelta(dt - now, add_direction=True, locale="en")


def renewal_text(n) -> str:
    if n.billing_cycles_count is None:
        return "Auto"
    if n.billing_cycles_count == 0:
        return "Won't renew"
    return f"{n.billing_cycles_count} more"


def capacity_text(n) -> str:
    """Compact: "2 incl · 4 ded · {group} · ≤ 10"; metered shows "metered"."""
    if n.capacity_mode == "metered":
        parts = ["metered"]
    else:
        parts = [f"{n.channels_included} incl"]
    if n.dedicated_channels:
        parts.append(f"{n.dedicated_channels} ded")
    if n.capacity_group is not None:
        parts.append(n.capacity_group.name)
    if n.capacity_limit:
        parts.append(f"≤ {n.capacity_limit}")
    return " · ".join(parts)


def location_text(n) -> str:
    tail = n.city or NUMBER_TYPES[n.number_type]
    return f"{filters.country_name(n.country)} · {tail}"


def effective_capacity(n) -> tuple[int | None, str]:
    """(channels or None for metered, breakdown) for the details page."""
    if n.capacity_mode == "metered":
        return None, "metered (per minute)"
    parts, total = [], n.channels_included + n.dedicated_channels
    parts.append(f"{n.channels_included} included")
    if n.dedicated_channels:
        parts.append(f"{n.dedicated_channels} dedicated")
    if n.capacity_group is not None:
        g = n.capacity_group
        total += g.shared_channels + g.metered_channels
        parts.append(f"{g.shared_channels} shared + {g.metered_channels} metered in {g.name}")
    return total, " + ".join(parts)


LABELS = {
    "number_type": NUMBER_TYPES, "capacity_mode": CAPACITY_MODES, "status": STATUSES,
    "feature": {code: label for code, (label, _) in FEATURES.items()},
}
