"""Domain errors and the HTTP error handlers (page, htmx flash, CSRF, 401)."""
import logging
import re
import uuid

from flask import g, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
# a caller's X-Request-Id is kept only when it is short and plain: it lands in the log, the error
# page, every audit row (a 32-character column) and the Activity CSV
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")


class DomainError(Exception):
    """A broken business rule; `field` names the form field it belongs to, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(DomainError):
    """A stale edit: someone changed the record since it was rendered (HTTP 409)."""


MESSAGES = {
    400: "The request could not be understood.",
    403: "You don't have permission to do that.",
    404: "That page does not exist.",
    405: "That action is not allowed here.",
    409: "This record was changed by someone else.",
    500: "Something went wrong; nothing was saved.",
}


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def error_response(status: int, message: str | None = None):
    """Full error page, or for htmx the flash message (the htmx config routes it to #flash)."""
    message = message or MESSAGES.get(status, "Something went wrong.")
    request_id = getattr(g, "request_id", None)
    if _is_htmx():
        body = render_template("macros/flash_one.html", category="error", message=message,
                               request_id=request_id if status >= 500 else None)
    else:
        body = render_template("errors/error.html", status=status, message=message, request_id=request_id)
    return make_response(body, status)


def register_error_handlers(app):
    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:12]

    @app.errorhandler(CSRFError)
    def _csrf(err):
        if _is_htmx():
            from flask import flash
            flash("This page was out of date and has been reloaded. Please repeat the last action.",
                  "error")
            resp = make_response("", 400)
            resp.headers["HX-Refresh"] = "true"
            return resp
        return error_response(400, "This form was out of date. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http(err):
        if err.code is None or err.code < 400:
            return err
        resp = error_response(err.code, err.description if err.code not in MESSAGES else None)
        if err.code == 405 and hasattr(err, "valid_methods") and err.valid_methods:
            resp.headers["Allow"] = ", ".join(err.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _crash(err):
        log.exception("unhandled error (request id %s)", getattr(g, "request_id", "-"))
        # the error page reads the database too (the navigation's counts); after a failed statement
        # PostgreSQL refuses every query until the transaction ends, so end it first. Imported here:
        # did_app.db imports this module.
        from did_app.db import db
        db.session.rollback()
        return error_response(500)
