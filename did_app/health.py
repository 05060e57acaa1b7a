"""GET /healthz: 200 ok when the database answers; GET /favicon.ico. Neither needs a login."""
import sqlalchemy as sa
from flask import Blueprint, current_app, send_from_directory

from did_app.db import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure to read means unhealthy
        return "database unavailable", 503, {"Content-Type": "text/plain; charset=utf-8"}
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/favicon.ico")
def favicon():
    # browsers ask for /favicon.ico on their own, before and without reading <link rel="icon">
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)
