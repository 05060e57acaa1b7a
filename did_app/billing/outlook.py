"""The Forecast page's figures (lifecycle.md §10): renewals in the next 30 and 90 days, when the
balance runs out, and the weekly bar chart, drawn as plain SVG geometry for the template."""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

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


def build(session, now: datetime, tz: str) -> Outlook:
    """Walk the next 90 days of renewals once and fold them into the page's figures."""
    items, balance = forecast.timeline(session, HORIZON, now)
    today = now.astimezone(_zone(tz)).date()
    windows = [Window(days) for days in WINDOWS]
    limits = [now + timedelta(days=days) for days in WINDOWS]
    weeks = [Week(today + timedelta(days=7 * i)) for i in range(-(-HORIZON // 7) + 1)]
    running, shortfall = 0, None
    for at, _, _, _, amount in items:
        running += amount
        for window, limit in zip(windows, limits):
            if at <= limit:
                window.count += 1
                window.total += amount
        # overdue renewals are charged by the next job run: they count in this week
        week = weeks[min(len(weeks) - 1, max(0, (at.astimezone(_zone(tz)).date() - today).days // 7))]
        week.total += amount
        week.count += 1
        if running > balance:
            week.short = True
            if shortfall is None:
                shortfall = Shortfall(at, 0, 0)
            shortfall.count += 1
            shortfall.total += amount
    weeks = [w for w in weeks if w.start <= (now + timedelta(days=HORIZON)).astimezone(_zone(tz)).date()]
    left = balance
    for w in weeks:
        left -= w.total
        w.remaining = left
    outlook = Outlook(balance, windows, weeks, shortfall)
    outlook.chart = chart(outlook)
    return outlook


def _nice_ceiling(value: int) -> int:
    """1, 2, 2.5 or 5 times a power of ten, at least `value` (the y axis's top)."""
    if value <= 0:
        return 1
    power = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(step * power)
    return 10 * power


def chart(o: Outlook, width: int = 720, height: int = 260) -> dict:
    """Bar and line geometry in SVG user units: bars are weekly totals, the line is the balance
    left after each week's renewals (stopping at 0)."""
    left, right, top, bottom = 78, 12, 14, 34
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
    ticks = [dict(value=v, y=y(v)) for v in (0, top_value // 2, top_value)]
    return dict(width=width, height=height, left=left, right=width - right, top=top, base=top + plot_h,
                bars=bars, ticks=ticks, line=" ".join(f"{x},{yy}" for x, yy in points),
                label_y=height - 12, balance_y=y(o.balance))
