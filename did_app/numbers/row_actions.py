"""The selection's batch actions (batch.md §3) and each row's ⋯ menu (numbers.md §7.3).

A row's menu lists only the actions that apply to its number. Whether one applies is read from the
columns the table already loaded (status, cancellation, verification, features, services), through
the same refusal checks the single-number actions use, so a page costs no query per row. The row
carries only the codes (`data-actions`); selection.js builds the links from one <template> on the
page when the menu opens, which keeps 50 rows of menus inside the page-weight bar (W1).
"""

from flask import url_for
from markupsafe import Markup, escape

from did_app.lifecycle import service as lifecycle
from did_app.numbers import display
from did_app.phone import display as phone_display

# batch.md §3, in its order, with the table's labels; Export downloads and needs no dialog
BATCH_ACTIONS = (
    ("renew", "Renew"), ("assign_details", "Assign end-user details"),
    ("capacity_limit", "Update capacity limit"), ("capacity_group", "Update capacity group"),
    ("dedicated", "Dedicated channels"), ("next_mode", "Change next capacity mode"),
    ("apply_profile", "Apply configuration profile"), ("voice_route", "Assign / unassign voice route"),
    ("sms_route", "Assign / unassign SMS route"), ("description", "Update description"),
    ("billing_cycles", "Change billing cycles"), ("cancel", "Cancel"),
    ("remove", "Remove and refund"), ("restore", "Restore"), ("export", "Export"),
)
BATCH_ENDPOINT = "batches.new"
# placeholders url_for fills in once per page; selection.js puts each row's id and digits in their place
ID_PLACEHOLDER, DIGITS_PLACEHOLDER = "987654321", "123456789012"


def batch_new_url(**params) -> str:
    """The batch dialog's URL, /batches/new?action=…&ids=… or …&filter=… (batch.md §2)."""
    return url_for(BATCH_ENDPOINT, **params)


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
        codes.append("remove")
    if number.cancelled_at is not None and lifecycle.restore_quote(number, ws, now).refusal is None:
        codes.append("restore")
    return codes


ROW_LABELS = {"renew": "Renew…", "assign_details": "Assign end-user details…",
              "apply_profile": "Apply configuration profile…", "next_mode": "Change next capacity mode…",
              "cnam_out": "Configure CNAM OUT…", "emergency": "Request emergency service…",
              "cancel": "Cancel…", "remove": "Remove and refund…", "restore": "Restore…"}


def row_menu(number, ws, now, may_edit: bool) -> Markup:
    """The ⋯ menu of one row: Open details, the actions that apply (editors only), History."""
    codes = " ".join(applicable(number, ws, now)) if may_edit else ""
    return Markup(f'<details class="row-menu" data-actions="{codes}"><summary aria-label="Actions for '
                  f'{escape(phone_display(number.number))}">⋯</summary></details>')


def row_links(may_edit: bool) -> list[tuple[str, str, str, bool]]:
    """(code, label, URL pattern, opens the batch dialog) of every row-menu item, for the page's
    <template>: the batch dialog with one number, or the page that does the job for one number.
    Viewers get Open details and History only."""
    batch = [(code, label, batch_new_url(action=code, ids=ID_PLACEHOLDER), True)
             for code, label in ROW_LABELS.items() if code in dict(BATCH_ACTIONS)]
    detail = url_for("numbers.show", digits=DIGITS_PLACEHOLDER)
    services = url_for("registration.number_services", digits=DIGITS_PLACEHOLDER)
    others = {"details": ("Open details", detail),
              "assign_details": (ROW_LABELS["assign_details"],
                                 url_for("registration.assign", number="+" + DIGITS_PLACEHOLDER)),
              "cnam_out": (ROW_LABELS["cnam_out"], services + "#cnam_out"),
              "emergency": (ROW_LABELS["emergency"], services + "#emergency"),
              "history": ("History", detail + "#history")}
    links = [(code, label, url, False) for code, (label, url) in others.items()] + [
        link for link in batch if link[0] != "assign_details"]
    return [link for link in links if may_edit or link[0] in ("details", "history")]
