"""The Forecast page's figures (lifecycle.md §10): renewals in the next 30 and 90 days, when the
balance runs out, and the weekly bar chart, drawn as plain SVG geometry for the template."""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from babel.numbers import format_compact_currency

from did_app import money
from did_app.lifecycle import forecast
from did_app.lifecycle.periods import _zone

WINDOWS = (30, 90)
HORIZON = max(WINDOWS)


@dataclass
class Window:
    days: int
    count: int = 0
    total: int = 0


@dataclass
class Shortfall:
    at: datetime          # the first renewal the balance can't pay
    count: int            # renewals from then on, within the horizon
    total: int


@dataclass
class Week:
    start: date
    total: int = 0
    count: int = 0
    short: bool = False   # holds a renewal the balance can't pay
    remaining: int = 0    # balance left after this week's renewals (may be negative)


@dataclass
class Outlook:
    balance: int
    windows: list[Window]
    weeks: list[Week]
    shortfall: Shortfall | None = None
    chart: dict = field(default_factory=dict)


def build(session, now: datetime, tz: str, balance: int, currency: str) -> Outlook:
    """Fold the next 90 days of renewals, summed per local day, into the page's figures."""
    o = forecast.outlook(session, tz, balance, HORIZON, now)
    today = o.horizon.today
    windows = [Window(days) for days in WINDOWS]
    weeks = [Week(today + timedelta(days=7 * i)) for i in range(HORIZON // 7 + 1)]
    short_day = o.shortfall_at.astimezone(_zone(tz)).date() if o.shortfall_at else None
    for day, (count, total) in o.horizon.days.items():
        for window in windows:
            if day <= today + timedelta(days=window.days):
                window.count += count
                window.total += total
        # renewals already due are charged by the next job run: they count in this week
        week = weeks[0 if day == forecast.EARLIER else (day - today).days // 7]
        week.count += count
        week.total += total
        if short_day is not None and day >= short_day:
            week.short = True
    left = balance
    for w in weeks:
        left -= w.total
        w.remaining = left
    shortfall = Shortfall(o.shortfall_at, o.short_count, o.short_total) if o.shortfall_at else None
    result = Outlook(balance, windows, weeks, shortfall)
    result.chart = chart(result, currency)
    return result


def _nice_ceiling(value: int) -> int:
    """1, 2, 2.5 or 5 times a power of ten, at least `value` (the y axis's top)."""
    if value <= 0:
        return 1
    power = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(step * power)
    return 10 * power


def chart(o: Outlook, currency: str, width: int = 720, height: int = 260) -> dict:
    """Bar and line geometry in SVG user units: bars are weekly totals, the line is the balance
    left after each week's renewals (stopping at 0)."""
    left, right, top, bottom = 56, 12, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_ceiling(max([o.balance] + [w.total for w in o.weeks]))
    slot = plot_w / max(1, len(o.weeks))

    def y(value: int) -> float:
        return round(top + plot_h - plot_h * max(0, value) / top_value, 1)

    bars = [dict(x=round(left + i * slot + slot * 0.15, 1), y=y(w.total), w=round(slot * 0.7, 1),
                 h=round(top + plot_h - y(w.total), 1), week=w,
                 label_x=round(left + i * slot + slot / 2, 1)) for i, w in enumerate(o.weeks)]
    points = [(left, y(o.balance))] + [(round(left + (i + 1) * slot, 1), y(w.remaining))
                                      for i, w in enumerate(o.weeks)]
    ticks = [dict(label=format_compact_currency(money.to_major(v, currency), currency, locale="en",
                                                fraction_digits=1), y=y(v))
             for v in (0, top_value // 2, top_value)]
    return dict(width=width, height=height, left=left, right=width - right, top=top, base=top + plot_h,
                bars=bars, ticks=ticks, line=" ".join(f"{x},{yy}" for x, yy in points),
                label_y=height - 12, balance_y=y(o.balance))
