"""HTML of the table's repeated cells, built in Python and cached.

Jinja macro calls cost about a tenth of a millisecond each; a 50-row page calls them hundreds of
times. These pieces depend on a handful of values, so they are built once per distinct value. The
URLs in them are built once per request (`_urls()`), so the app works under any sub-path
(SCRIPT_NAME), and are part of each cache key.
"""
from contextvars import ContextVar
from functools import lru_cache

from flask import has_request_context, url_for
from markupsafe import Markup, escape

from did_app.models.numbers import FEATURES, STATUSES, features_codes
from did_app.phone import display

_ID, _FIELD = 987654321, "FIELD"  # placeholders url_for fills in, replaced per cell


class _Urls:
    """The URLs of one request, HTML-escaped: the icon sprite, and the details and inline-edit URLs
    cut around their number id or digits and field, to be formatted in per row."""
    __slots__ = ("icons", "detail", "edit")

    def __init__(self, icons: str, detail: str, edit: str):
        self.icons = str(escape(icons))
        self.detail = tuple(str(escape(part)) for part in detail.rsplit(str(_ID), 1))
        head, rest = edit.rsplit(str(_ID), 1)
        self.edit = tuple(str(escape(part)) for part in (head, *rest.rsplit(_FIELD, 1)))


_DEFAULT_URLS = _Urls("/static/icons.svg", f"/numbers/{_ID}", f"/numbers/{_ID}/cells/{_FIELD}/edit")


# set by the first cell of a request, cleared when the request ends (forget_urls): a context
# variable costs a tenth of what `g` or `request` cost, and a page asks about 550 times
_REQUEST_URLS: ContextVar[_Urls | None] = ContextVar("cell_urls", default=None)


def _urls() -> _Urls:
    """This request's URLs: three url_for calls per request, not one per icon or link per row.
    Outside a request (a mail, a script) the root-path URLs."""
    urls = _REQUEST_URLS.get()
    if urls is None:
        if not has_request_context():
            return _DEFAULT_URLS
        urls = _Urls(url_for("static", filename="icons.svg"),
                     url_for("numbers.show", digits=str(_ID)),
                     url_for("numbers.edit_cell", number_id=_ID, field=_FIELD))
        _REQUEST_URLS.set(urls)
    return urls


def forget_urls(exc=None) -> None:
    """teardown_request: the next request (perhaps under another sub-path) builds its own."""
    _REQUEST_URLS.set(None)


def number_url(digits: str) -> str:
    """url_for("numbers.show", digits=…) at the cost of a format: a number's details page."""
    if not digits.isascii() or not digits.isdigit():
        return url_for("numbers.show", digits=digits)
    head, tail = _urls().detail
    return f"{head}{digits}{tail}"


def _icon(icons_url: str, name: str, label: str, tooltip: bool = True) -> str:
    title = f"<title>{escape(label)}</title>" if tooltip else ""
    return (f'<svg class="icon" role="img" aria-label="{escape(label)}">{title}'
            f'<use href="{icons_url}#{name}"></use></svg>')


def icon(name: str, label: str, tooltip: bool = True) -> str:
    return _icon(_urls().icons, name, label, tooltip)


def feature_icons(mask: int, with_labels: bool = False, tooltip: bool = True) -> Markup:
    """The feature icons; `tooltip=False` drops the <title> (the narrow-screen copy in the number cell)."""
    return _feature_icons(_urls().icons, mask, with_labels, tooltip)


@lru_cache(maxsize=256)
def _feature_icons(icons_url: str, mask: int, with_labels: bool, tooltip: bool) -> Markup:
    parts = []
    for code in features_codes(mask):
        label = FEATURES[code][0]
        parts.append(f'<span class="feature-labelled">{_icon(icons_url, code, label)} {escape(label)}</span>'
                     if with_labels else _icon(icons_url, code, label, tooltip))  # bare: 50 rows × 2 copies (W1)
    return Markup("".join(parts))


def status_badge(status: str, sub_label: str | None, expiring_soon: bool) -> Markup:
    return _status_badge(_urls().icons, status, sub_label, expiring_soon)


@lru_cache(maxsize=64)
def _status_badge(icons_url: str, status: str, sub_label: str | None, expiring_soon: bool) -> Markup:
    sub = f"<small> · {escape(sub_label)}</small>" if sub_label else ""
    html = f'<span class="badge badge-{escape(status)}">{escape(STATUSES[status])}{sub}</span>'
    if expiring_soon:
        html += (' <span class="chip chip-expiring" title="Billing cycles are 0: it will not renew">'
                 f'<svg class="icon" aria-hidden="true"><use href="{icons_url}#hourglass"></use></svg>'
                 'Expiring soon</span>')
    return Markup(html)


def badge_for(n) -> Markup:
    sub = ("Cancelled" if n.cancelled_at else "Expired") if n.status == "terminated" else None
    return status_badge(n.status, sub, bool(n.expiring_soon))


def route_cell(kind: str | None, name: str | None, blocked: bool, supported: bool) -> Markup:
    return _route_cell(_urls().icons, kind, name, blocked, supported)


@lru_cache(maxsize=1024)
def _route_cell(icons_url: str, kind: str | None, name: str | None, blocked: bool, supported: bool) -> Markup:
    if not supported:
        return Markup('<span class="muted" title="Not supported by this number">—</span>')
    if kind is None:
        return Markup('<span class="muted">None</span>')
    label = "Trunk group" if kind == "group" else "Trunk"
    html = f'{_icon(icons_url, "group" if kind == "group" else "trunk", label, tooltip=False)} {escape(name)}'
    if blocked:
        html += ' <small class="tone-critical">(blocked)</small>'
    return Markup(html)


def route_for(route, supported: bool) -> Markup:
    if route is None:
        return route_cell(None, None, False, supported)
    return route_cell(route.kind, route.name, bool(getattr(route, "blocked", False)), supported)


def services_for(services) -> Markup:
    return Markup("".join(
        f'<span class="chip chip-service"><span class="dot dot-{escape(s.status)}" aria-hidden="true"></span>'
        f'{escape(s.label)}<span class="visually-hidden"> ({escape(s.status)})</span></span>' for s in services))


# ---------------------------------------------------------------- inline-editable cells

CELLS = {  # field in the URL: (column label, CSS class, Number attribute)
    "description": ("description", "col-description", "description"),
    "voice_route": ("voice route", "col-voice", "voice_route_id"),
    "sms_route": ("SMS route", "col-sms", "sms_route_id"),
    "capacity_limit": ("capacity limit", "col-capacity", "capacity_limit"),
    "renewal": ("renewal", "col-renewal", "billing_cycles_count"),
}


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
    head, middle, tail = _urls().edit
    url = f"{head}{int(number.id)}{middle}{field}{tail}"  # field is a CELLS key
    shown = content or Markup('<span class="muted">—</span>')
    return Markup(
        f'<td id="{cell_id(number.id, field)}" class="{css}"{title_attr}>'
        f'<button class="cell-edit" hx-get="{url}" '  # hx-target and hx-swap: from the table body
        f'aria-label="Edit {label} of {escape(display(number.number))}">'
        f'{shown}</button>{note}</td>')
