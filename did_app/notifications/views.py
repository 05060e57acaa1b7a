"""The notifications page and the header bell (lifecycle.md §12 "In-app"): newest first, filter by
kind, mark read, mark all read, and a link from each notification to exactly its numbers."""
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from did_app.htmx import redirect_to, render, wants_fragment
from did_app.notifications import queries, reads

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def _bell_count():
    """`unread_notifications()` for the bell in base.html: counted once per request, when a
    signed-in page's header asks for it (never for fragments, which carry no header)."""
    def unread_notifications() -> int:
        if "unread_notifications" not in g:
            g.unread_notifications = queries.unread_count(current_user.id)
        return g.unread_notifications
    return {"unread_notifications": unread_notifications}


def link_of(note) -> str | None:
    """Where a notification leads: its payload's `link` endpoint (the forecast page), else its
    saved list of numbers on My Numbers."""
    endpoint = (note.payload or {}).get("link")
    if endpoint and endpoint in current_app.view_functions:
        try:
            return url_for(endpoint)
        except BuildError:  # an endpoint that needs arguments is not a notification's link
            pass
    if note.list_token:
        return url_for("numbers.index", list=note.list_token)
    return None


def _page_context(f):
    rows, total = queries.page(current_user.id, f)
    return dict(rows=rows, total=total, filters=f, kinds=queries.KINDS, per_page=queries.PER_PAGE, link_of=link_of)


def _with_bell(html: str) -> str:
    """A fragment plus the bell out of band, so the header's count follows every change."""
    return html + render_template("notifications/_bell.html", oob=True)


@bp.get("")
def index():
    f = queries.InboxFilter.from_args(request.args)
    html = render("notifications/index.html", "table", **_page_context(f))
    return _with_bell(html) if wants_fragment() else html


@bp.post("/<int:notification_id>/read")
def mark_read(notification_id: int):
    if not reads.mark_read(current_user.id, notification_id):
        abort(404)
    if not wants_fragment():
        return redirect(url_for("notifications.index", **queries.InboxFilter.from_args(request.args).args()), 303)
    row = queries.one(current_user.id, notification_id)
    return _with_bell(render("notifications/index.html", "row", row=row, link_of=link_of,
                             filters=queries.InboxFilter()))


@bp.post("/read-all")
def mark_all_read():
    reads.mark_all_read(current_user.id)
    f = queries.InboxFilter.from_args(request.args)
    if not wants_fragment():
        return redirect(url_for("notifications.index", **f.args()), 303)
    return _with_bell(render("notifications/index.html", "table", **_page_context(f)))


@bp.get("/<int:notification_id>/open")
def open_link(notification_id: int):
    """Follow a notification's link; following it is reading it."""
    row = queries.one(current_user.id, notification_id)
    if row is None:
        abort(404)
    target = link_of(row.note) or url_for("notifications.index")
    if not row.read:
        reads.mark_read(current_user.id, notification_id)
    return redirect_to(target) if wants_fragment() else redirect(target, 303)
