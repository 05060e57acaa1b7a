"""The expiry timeline as SVG geometry for the template (the Forecast page's approach,
billing/outlook.chart: plain numbers in SVG user units, no JavaScript): stacked weekly bars of
numbers (will renew, at risk, won't renew), and the balance as a line: level while it covers the
renewals, down to 0 at the forecast's stored cutoff (the first renewal it can't pay)."""
from babel.numbers import format_compact_currency

from did_app import money
from did_app.filters import fmt_date

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


def _segments(week, x: float, width: float, y_count, links) -> list[dict]:
    """The week's stacked segments, bottom up, each with its link, its text and the count it opens."""
    day, out, stacked = fmt_date(week.start), [], 0
    live_href, wont_href = links
    for key, label in SEGMENTS:
        value = getattr(week, key)
        if value:
            y = y_count(stacked + value)
            text = f"Week of {day}: {value:,} {label.lower()}"
            wont = key == "wont_renew"
            out.append(dict(key=key, week=week.start.isoformat(), x=x, w=width, y=y, h=round(y_count(stacked) - y, 1),
                            href=wont_href if wont else live_href, text=text,
                            title=text if wont else f"{text} (opens the week's {week.total:,} numbers)",
                            count=value if wont else week.total))
        stacked += value
    return out


def timeline(weeks, links, balance: int, cutoff_x: float | None, currency: str, width: int = 760,
             height: int = 280) -> dict:
    """Everything the template draws, worked out here: a Jinja loop that calls macros and filters per
    segment cost more than the page's queries (B12). `links` holds each week's (all, won't renew) hrefs."""
    left, right, top, bottom = 52, 64, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    base = top + plot_h
    count_top = nice_ceiling(max([w.total for w in weeks] + [1]))
    slot = plot_w / max(1, len(weeks))

    def y_count(value: int) -> float:
        return round(base - plot_h * value / count_top, 1)

    segments, labels = [], []
    for i, w in enumerate(weeks):
        segments += _segments(w, round(left + i * slot + slot * 0.15, 1), round(slot * 0.7, 1), y_count, links[i])
        if i % 2 == 0:  # every other week: the labels need the room
            labels.append(dict(x=round(left + i * slot + slot / 2, 1), text=f"{w.start.day} {w.start.strftime('%b')}"))
    rows = [dict(day=fmt_date(w.start), will_renew=f"{w.will_renew:,}", at_risk=f"{w.at_risk:,}",
                 wont_renew=f"{w.wont_renew:,}", total=f"{w.total:,}", live_href=live, wont_href=wont,
                 covered="Yes" if w.covered else "No") for w, (live, wont) in zip(weeks, links)]
    line_y = round(top + plot_h * 0.08, 1) if balance > 0 else base
    end_x = width - right if cutoff_x is None else round(left + cutoff_x * slot, 1)
    points = [(left, line_y), (end_x, line_y)] + ([(end_x, base)] if cutoff_x is not None else [])
    count_ticks = [dict(label=f"{v:,}", y=y_count(v)) for v in (0, count_top // 2, count_top)]
    return dict(width=width, height=height, left=left, right=width - right, top=top, base=base,
                segments=segments, labels=labels, rows=rows, count_ticks=count_ticks, label_y=height - 12,
                balance_label=_money_label(balance, currency), line_y=line_y,
                line=" ".join(f"{x},{y}" for x, y in points))
