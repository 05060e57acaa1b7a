"""The email digest's message (lifecycle.md §12): subject "{workspace}: {k} reminders, {date}", a
plain-text and an HTML part, absolute links from BASE_URL, and a Message-ID that a resend repeats."""
from email.message import EmailMessage
from email.utils import format_datetime

from flask import current_app, render_template

from did_app import filters
from did_app.notifications import links, mailer


def message_id(delivery_id: int) -> str:
    """Derived from the delivery only, so a resend after a crash carries the same id."""
    return f"<digest-{delivery_id}@{links.base_host()}>"


def subject(ws, count: int, created_at) -> str:
    return f"{ws.name}: {count} {'reminder' if count == 1 else 'reminders'}, {filters.local_date(created_at, ws)}"


def compose(delivery, user, notes: list, ws) -> EmailMessage:
    """The digest `delivery` to `user` listing `notes` (its digest items), as sent and as resent."""
    items = [{"message": n.message, "url": links.notification_url(n), "kind": n.kind,
              "created": filters.local_date(n.created_at, ws)} for n in notes]
    context = {"workspace": ws.name, "user": user, "items": items,
               "profile_url": links.absolute_url("auth.profile"),
               "notifications_url": _notifications_url()}
    msg = EmailMessage()
    msg["Subject"] = subject(ws, len(notes), delivery.created_at)
    msg["From"] = mailer.sender()
    msg["To"] = user.email
    msg["Date"] = format_datetime(delivery.created_at)
    msg["Message-ID"] = delivery.message_id or message_id(delivery.id)
    msg.set_content(render_template("email/digest.txt", **context))
    msg.add_alternative(render_template("email/digest.html", **context), subtype="html")
    return msg


def compose_test(user, ws, msg_id: str, sent_at) -> EmailMessage:
    """The Settings page's test email to `user`."""
    msg = EmailMessage()
    msg["Subject"] = f"{ws.name}: test email"
    msg["From"] = mailer.sender()
    msg["To"] = user.email
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = msg_id
    msg.set_content(f"This is a test email from {ws.name}. Email digests can reach you.\n\n"
                    f"Your digest setting: {links.absolute_url('auth.profile')}\n")
    return msg


def _notifications_url() -> str | None:
    # the inbox belongs to another area and may not be built yet
    return links.absolute_url("notifications.index") if "notifications.index" in current_app.view_functions else None
