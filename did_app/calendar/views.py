"""The per-user expiry calendar feed (lifecycle.md §13): `/calendar/<token>.ics`, no login; the
secret token is the credential, so an unknown, reset or malformed one is a plain 404."""
import re

import sqlalchemy as sa
from flask import Blueprint, Response, abort

from did_app.calendar import feed
from did_app.db import db
from did_app.models import User

bp = Blueprint("calendar", __name__, url_prefix="/calendar")
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}", re.ASCII)


@bp.get("/<token>.ics", endpoint="feed")
def feed_ics(token: str):
    if not TOKEN.fullmatch(token) or not db.session.scalar(
            sa.select(sa.exists().where(User.calendar_token == token, User.active.is_(True)))):
        abort(404)
    body = feed.build(db.session)
    return Response(body, content_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'inline; filename="my-numbers.ics"', "Cache-Control": "no-store"})

