"""HTML of the table's repeated cells, built in Python and cached.

Jinja macro calls cost about a tenth of a millisecond each; a 50-row page calls them hundreds of
times. These pieces depend on a handful of values, so they are built once per distinct value.
"""
from functools import lru_cache

from markupsafe import Markup, escape

from did_app.models.numbers import FEATURES, STATUSES, features_codes

ICONS_URL = "/static/icons.svg"  # replaced at start-up with the app's real static URL


def set_icons_url(url: str) -> None:
    global ICONS_URL
    ICONS_URL = url
    feature_icons.cache_clear()
    status_badge.cache_clear()
    route_cell.cache_clear()


def icon(name: str, label: str, tooltip: bool = True) -> str:
    title = f"<title>{escape(label)}</title>" if tooltip else ""
    return (f'<svg class="icon" role="img" aria-label="{escape(label)}">{title}'
            f'<use href="{ICONS_URL}#{name}"></use></svg>')


@lru_cache(maxsize=256)
def feature_icons(mask: int, with_labels: bool = False, tooltip: bool = True) -> Markup:
    """The feature icons; `tooltip=False` drops the <title> (the narrow-screen copy in the number cell)."""
    parts = []
    for code in features_codes(mask):
        label = FEATURES[code][0]
        parts.append(f'<span class="feature-labelled">{icon(code, label)} {escape(label)}</span>' if with_labels
                     else f'<span class="feature">{icon(code, label, tooltip)}</span>')
    return Markup("".join(parts))


@lru_cache(maxsize=64)
def status_badge(status: str, sub_label: str | None, expiring_soon: bool) -> Markup:
    sub = f"<small> · {sub_label}</small>" if sub_label else ""
    html = f'<span class="badge badge-{status}">{STATUSES[status]}{sub}</span>'
    if expiring_soon:
        html += (' <span class="chip chip-expiring" title="Billing cycles are 0: it will not renew">'
                 f'<svg class="icon" aria-hidden="true"><use href="{ICONS_URL}#hourglass"></use></svg>'
                 'Expiring soon</span>')
    return Markup(html)


def badge_for(n) -> Markup:
    sub = ("Cancelled" if n.cancelled_at else "Expired") if n.status == "terminated" else None
    return status_badge(n.status, sub, bool(n.expiring_soon))


@lru_cache(maxsize=1024)
def route_cell(kind: str | None, name: str | None, blocked: bool, supported: bool) -> Markup:
    if not supported:
        return Markup('<span class="muted" title="Not supported by this number">—</span>')
    if kind is None:
        return Markup('<span class="muted">None</span>')
    label = "Trunk group" if kind == "group" else "Trunk"
    html = f'{icon("group" if kind == "group" else "trunk", label, tooltip=False)} {escape(name)}'
    if blocked:
        html += ' <small class="tone-critical">(blocked)</small>'
    return Markup(html)


def route_for(route, supported: bool) -> Markup:
    if route is None:
        return route_cell(None, None, False, supported)
    return route_cell(route.kind, route.name, bool(getattr(route, "blocked", False)), supported)


def services_for(services) -> Markup:
    return Markup("".join(
        f'<span class="chip chip-service"><span class="dot dot-{s.status}" aria-hidden="true"></span>'
        f'{s.label}<span class="visually-hidden"> ({s.status})</span></span>' for s in services))


# ---------------------------------------------------------------- inline-editable cells

EDIT_URL = "/numbers/{id}/cells/{field}/edit"  # replaced at start-up from url_for
CELLS = {  # field in the URL: (column label, CSS class, Number attribute)
    "description": ("description", "col-description", "description"),
    "voice_route": ("voice route", "col-voice", "voice_route_id"),
    "sms_route": ("SMS route", "col-sms", "sms_route_id"),
    "capacity_limit": ("capacity limit", "col-capacity", "capacity_limit"),
    "renewal": ("renewal", "col-renewal", "billing_cycles_count"),
}


def set_edit_url(template: str) -> None:
    global EDIT_URL
    EDIT_URL = template


def cell_id(number_id: int, field: str) -> str:
    return f"number-{number_id}-{field}"


def editable_cell(number, field: str, content, can_edit: bool, message: str | None = None,
                  title: str | None = None) -> Markup:
    """A table cell that is a button "Edit {column} of {number}" for those who may edit it."""
    label, css, _ = CELLS[field]
    content = escape(content)  # Markup passes through; plain text (a description) is escaped
    title_attr = f' title="{escape(title)}"' if title else ""
    note = (f'<small class="field-error" role="alert">{escape(message)}</small>' if message else "")
    if not can_edit:
        return Markup(f'<td id="{cell_id(number.id, field)}" class="{css}"{title_attr}>{content}{note}</td>')
    from did_app.phone import display
    url = EDIT_URL.replace("{id}", str(number.id)).replace("{field}", field)
    shown = content or Markup('<span class="muted">—</span>')
    return Markup(
        f'<td id="{cell_id(number.id, field)}" class="{css}"{title_attr}>'
        f'<button class="cell-edit" hx-get="{url}" hx-target="closest td" '
        f'hx-swap="outerHTML" aria-label="Edit {label} of {escape(display(number.number))}">'
        f'{shown}</button>{note}</td>')
