"""The expiry timeline as SVG geometry for the template (the Forecast page's approach,
billing/outlook.chart: plain numbers in SVG user units, no JavaScript): stacked weekly bars of
numbers (will renew, at risk, won't renew), and the balance as a line: level while it covers the
renewals, down to 0 at the forecast's stored cutoff (the first renewal it can't pay)."""
from babel.numbers import format_compact_currency

from did_app import money

SEGMENTS = (("will_renew", "Will renew"), ("at_risk", "At risk"), ("wont_renew", "Won't renew"))


def nice_ceiling(value: int) -> int:
    """1, 2, 2.5 or 5 times a power of ten, at least `value` (an axis's top)."""
    if value <= 0:
        return 1
    power = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(step * power)
    return 10 * power


def _money_label(minor: int, currency: str) -> str:
    return format_compact_currency(money.to_major(minor, currency), currency, locale="en", fraction_digits=1)


def timeline(weeks, balance: int, cutoff_x: float | None, currency: str, width: int = 760, height: int = 280) -> dict:
    left, right, top, bottom = 52, 64, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    count_top = nice_ceiling(max([w.total for w in weeks] + [1]))
    slot = plot_w / max(1, len(weeks))

    def y_count(value: int) -> float:
        return round(base - plot_h * value / count_top, 1)

    bars = []
    for i, w in enumerate(weeks):
        x, stacked, segments = round(left + i * slot + slot * 0.15, 1), 0, []
        for key, label in SEGMENTS:
            value = getattr(w, key)
            if value:
                y = y_count(stacked + value)
                segments.append(dict(key=key, label=label, value=value, y=y,
                                     h=round(y_count(stacked) - y, 1)))
            stacked += value
        bars.append(dict(week=w, x=x, w=round(slot * 0.7, 1), segments=segments,
                         label_x=round(left + i * slot + slot / 2, 1)))
    line_y = round(top + plot_h * 0.08, 1) if balance > 0 else base
    end_x = width - right if cutoff_x is None else round(left + cutoff_x * slot, 1)
    points = [(left, line_y), (end_x, line_y)] + ([(end_x, base)] if cutoff_x is not None else [])
    count_ticks = [dict(label=f"{v:,}", y=y_count(v)) for v in (0, count_top // 2, count_top)]
    return dict(width=width, height=height, left=left, right=width - right, top=top, base=base, bars=bars,
                count_ticks=count_ticks, label_y=height - 12, balance_label=_money_label(balance, currency),
                line_y=line_y, line=" ".join(f"{x},{y}" for x, y in points))
