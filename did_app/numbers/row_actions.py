"""The selection's batch actions (batch.md §3) and each row's ⋯ menu (numbers.md §7.3).

A row's menu lists only the actions that apply to its number. Whether one applies is read from the
columns the table already loaded (status, cancellation, verification, features, services), through
the same refusal checks the single-number actions use, so a page costs no query per row. The HTML is
built in Python, like cells.py: a Jinja macro per row would cost about as much as the rest of the row.
"""
from urllib.parse import quote, urlencode

from flask import current_app, g, request, url_for
from markupsafe import Markup, escape

from did_app.lifecycle import service as lifecycle
from did_app.numbers import cells, display
from did_app.phone import display as phone_display

# batch.md §3, in its order, with the table's labels; Export downloads and needs no dialog
BATCH_ACTIONS = (
    ("renew", "Renew"), ("assign_details", "Assign end-user details"),
    ("capacity_limit", "Update capacity limit"), ("capacity_group", "Update capacity group"),
    ("dedicated_channels", "Dedicated channels"), ("next_mode", "Change next capacity mode"),
    ("apply_profile", "Apply configuration profile"), ("voice_route", "Assign / unassign voice route"),
    ("sms_route", "Assign / unassign SMS route"), ("description", "Update description"),
    ("billing_cycles", "Change billing cycles"), ("cancel", "Cancel"),
    ("remove_refund", "Remove and refund"), ("restore", "Restore"), ("export", "Export"),
)
BATCH_ENDPOINT = "batches.new"
_DIGITS = "987654321"  # placeholder url_for fills in, replaced per row (as in cells.py)


def batch_new_url(**params) -> str:
    """The batch dialog's URL, /batches/new?action=…&ids=… or …&filter=… (batch.md §2).

    The one place that knows it: the batch blueprint may not be registered yet (it is built on
    another branch), so until then the path is written here under the app's sub-path.
    """
    if BATCH_ENDPOINT in current_app.view_functions:
        return url_for(BATCH_ENDPOINT, **params)
    return request.script_root + "/batches/new" + ("?" + urlencode(params) if params else "")


class _Urls:
    """This request's URL prefixes for the menus, built once per request (stored on `g`)."""
    __slots__ = ("batch", "assign", "services")

    def __init__(self):
        self.batch = str(escape(batch_new_url()))
        self.assign = str(escape(url_for("registration.assign")))
        self.services = tuple(str(escape(part)) for part in
                              url_for("registration.number_services", digits=_DIGITS).rsplit(_DIGITS, 1))


def _urls() -> _Urls:
    urls = g.get("_row_action_urls")
    if urls is None:
        urls = g._row_action_urls = _Urls()
    return urls


def _service_open(number, kind: str) -> bool:
    """The feature is there and no request of that kind is pending or active (numbers.md §7.3)."""
    return number.has_feature(kind) and not any(
        s.kind == kind and s.status in ("pending", "active") for s in number.services)


def applicable(number, ws, now) -> list[str]:
    """Codes of the editing actions that apply to this number, in the menu's order."""
    codes = []
    if lifecycle.renew_refusal(number) is None:
        codes.append("renew")
    if number.awaiting_registration and display.verification_state(number) in ("missing", "rejected"):
        codes.append("assign_details")
    codes.append("apply_profile")
    if number.mode_can_switch:
        codes.append("next_mode")
    codes += [kind for kind in ("cnam_out", "emergency") if _service_open(number, kind)]
    if lifecycle.cancel_refusal(number) is None:
        codes.append("cancel")
    if lifecycle.remove_refusal(number) is None:
        codes.append("remove_refund")
    if number.cancelled_at is not None and lifecycle.restore_quote(number, ws, now).refusal is None:
        codes.append("restore")
    return codes


ROW_LABELS = {"renew": "Renew…", "assign_details": "Assign end-user details…",
              "apply_profile": "Apply configuration profile…", "next_mode": "Change next capacity mode…",
              "cnam_out": "Configure CNAM OUT…", "emergency": "Request emergency service…",
              "cancel": "Cancel…", "remove_refund": "Remove and refund…", "restore": "Restore…"}


def _item(code: str, number, urls: _Urls) -> str:
    label = ROW_LABELS[code]
    if code == "assign_details":  # the registration flow itself, not a dialog
        return f'<li><a href="{urls.assign}?number={escape(quote(number.number))}">{label}</a></li>'
    if code in ("cnam_out", "emergency"):
        head, tail = urls.services
        return f'<li><a href="{head}{number.digits}{tail}#{code}">{label}</a></li>'
    href = f"{urls.batch}?action={code}&amp;ids={int(number.id)}"
    return f'<li><a href="{href}" data-batch-dialog>{label}</a></li>'


def row_menu(number, ws, now, may_edit: bool) -> Markup:
    """The ⋯ menu of one row: Open details, the actions that apply (editors only), History."""
    detail = cells.number_url(number.digits)
    items = [f'<li><a href="{detail}">Open details</a></li>']
    if may_edit:
        urls = _urls()
        items += [_item(code, number, urls) for code in applicable(number, ws, now)]
    items.append(f'<li><a href="{detail}#history">History</a></li>')
    return Markup(
        f'<details class="row-menu"><summary aria-label="Actions for {escape(phone_display(number.number))}">'
        f'⋯</summary><ul>{"".join(items)}</ul></details>')
