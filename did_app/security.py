"""Security headers, cookie policy, optional ProxyFix and role checks."""
from functools import wraps

from flask import abort, request
from flask_login import current_user

from did_app.extensions import login_manager

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")


def add_security_headers(response, hsts: bool = False):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


# answers any cache may keep as usual: assets and the favicon, the health probe, the login page
CACHEABLE_ENDPOINTS = {"static", "health.healthz", "health.favicon", "auth.login"}


def add_cache_headers(response):
    """`Cache-Control: no-store` on every answer to a signed-in user (pages, fragments, redirects,
    errors) and on every CSV, so that no shared cache or browser keeps a copy after logout."""
    signed_in = current_user.is_authenticated  # also the redirect of a successful login, after login_user()
    if request.endpoint in CACHEABLE_ENDPOINTS and not (signed_in and request.endpoint == "auth.login"):
        return response
    if response.mimetype == "text/csv" or signed_in:
        response.headers["Cache-Control"] = "no-store"
    return response


ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}


def role_required(role: str):
    """Refuse (403) users below `role`; login is enforced globally before this runs."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if ROLE_RANK[current_user.role] < ROLE_RANK[role]:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def can(role: str) -> bool:
    """Template helper: does the current user hold at least `role`?"""
    return current_user.is_authenticated and ROLE_RANK[current_user.role] >= ROLE_RANK[role]
