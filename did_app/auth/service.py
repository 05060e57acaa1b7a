"""Users, first run, login with database-stored throttling (access.md §1–§4)."""
import math
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from did_app import audit, clock
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.models import LoginAttempt, User
from did_app.workspace import ensure_workspace

THROTTLE_WINDOW = timedelta(minutes=15)
EMAIL_LIMIT, IP_LIMIT = 5, 20
# checked for unknown emails too, so the response time reveals nothing
_DUMMY_HASH = generate_password_hash("not-a-real-password-at-all")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def any_user_exists() -> bool:
    return db.session.scalar(sa.select(sa.exists().where(User.id.is_not(None))))


def load_session_user(token: str):
    """Flask-Login loader: "id:session_version"; a stale version ends the session."""
    try:
        user_id, version = (int(part) for part in token.split(":"))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def session_too_old(login_at) -> bool:
    if login_at is None:
        return False
    max_age = current_app.config["SESSION_MAX_AGE"].total_seconds()
    return clock.now().timestamp() - float(login_at) > max_age


def check_password_rules(password: str, confirm: str | None, email: str) -> None:
    """Raise DomainError (field "password" / "confirm") when a new password breaks a rule."""
    if not 12 <= len(password or "") <= 128:
        raise DomainError("Password must be 12–128 characters.", "password")
    local = normalise_email(email).split("@")[0]
    if local and local in password.lower():
        raise DomainError("Password must not contain your email name.", "password")
    if confirm is not None and password != confirm:
        raise DomainError("Passwords don't match.", "confirm")


def _email_taken(session, email: str) -> bool:
    return session.scalar(sa.select(sa.exists().where(User.email == email)))


def _new_user(session, email, display_name, role, password, must_change=False) -> User:
    user = User(email=email, display_name=display_name, role=role,
                password_hash=generate_password_hash(password), must_change_password=must_change,
                digest_opt_in=(role == "admin"), calendar_token=secrets.token_urlsafe(24)[:32])
    session.add(user)
    session.flush()
    return user


def complete_setup(*, email, display_name, password, confirm, settings: dict) -> User:
    """First run: create the first admin and save the workspace settings in one transaction.

    Raises DomainError "Setup is already complete." when any user exists by then.
    """
    email = normalise_email(email)
    check_password_rules(password, confirm, email)
    with write_transaction() as session:
        if session.scalar(sa.select(sa.exists().where(User.id.is_not(None)))):
            raise DomainError("Setup is already complete.")
        user = _new_user(session, email, display_name.strip(), "admin", password)
        actor = audit.Actor(user, "web")
        audit.record(actor, "user.created", "user", user.id, email, after={"role": "admin"})
        ws = ensure_workspace(session)
        before = {k: getattr(ws, k) for k in settings}
        for key, value in settings.items():
            setattr(ws, key, value)
        ws.settings_reviewed = True
        b, a = audit.diff(before, settings)
        audit.record(actor, "settings.updated", "workspace", ws.id, ws.name, before=b, after=a)
    return user


def create_user(actor, *, email, display_name, role, password=None) -> tuple[User, str | None]:
    """Create a user (Users page, `flask create-user`). Returns (user, generated password or None).

    Also creates the workspace settings row with its defaults if none exists.
    """
    email = normalise_email(email)
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    else:
        check_password_rules(password, None, email)
    if role not in ("admin", "operator", "viewer"):
        raise DomainError("Choose a role: admin, operator or viewer.", "role")
    if not email or "@" not in email or len(email) > 254:
        raise DomainError("Enter a valid email address.", "email")
    if not 1 <= len(display_name.strip()) <= 80:
        raise DomainError("Display name must be 1–80 characters.", "display_name")
    with write_transaction() as session:
        if _email_taken(session, email):
            raise DomainError("A user with this email already exists.", "email")
        ensure_workspace(session)
        user = _new_user(session, email, display_name.strip(), role, password,
                         must_change=generated is not None)
        audit.record(actor, "user.created", "user", user.id, email, after={"role": role})
    return user, generated


def _active_admins(session) -> int:
    return session.scalar(sa.select(sa.func.count()).where(User.role == "admin", User.active.is_(True)))


def update_user(actor, user_id: int, *, display_name: str, role: str, active: bool) -> User:
    """Change a user's name, role or active flag. The last active admin stays an active admin."""
    if not 1 <= len(display_name.strip()) <= 80:
        raise DomainError("Display name must be 1–80 characters.", "display_name")
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise DomainError("That user does not exist.")
        losing_admin = user.role == "admin" and user.active and (role != "admin" or not active)
        if losing_admin and _active_admins(session) <= 1:
            raise DomainError("At least one active admin is required.", "role")
        before = {"display_name": user.display_name, "role": user.role, "active": user.active}
        after = {"display_name": display_name.strip(), "role": role, "active": active}
        b, a = audit.diff(before, after)
        if not a:
            return user
        if "role" in a or "active" in a:
            user.session_version += 1  # ends the user's other sessions
        user.display_name, user.role, user.active = after["display_name"], role, active
        action = ("user.role_changed" if "role" in a else
                  "user.deactivated" if a.get("active") is False else
                  "user.reactivated" if a.get("active") is True else "user.updated")
        audit.record(actor, action, "user", user.id, user.email, before=b, after=a)
    return user


def reset_password(actor, user_id: int) -> str:
    """Give a user a temporary password that must be changed at next login; returns it."""
    temporary = secrets.token_urlsafe(12)
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise DomainError("That user does not exist.")
        user.password_hash = generate_password_hash(temporary)
        user.must_change_password = True
        user.session_version += 1
        audit.record(actor, "user.password_reset", "user", user.id, user.email,
                     after={"password": "changed"})
    return temporary


def change_password(user_id: int, *, current: str, new: str, confirm: str) -> User:
    """A user changes their own password; other sessions end."""
    with write_transaction() as session:
        user = session.get(User, user_id)
        if not check_password_hash(user.password_hash, current or ""):
            raise DomainError("Current password is incorrect.", "current")
        check_password_rules(new, confirm, user.email)
        user.password_hash = generate_password_hash(new)
        user.must_change_password = False
        user.session_version += 1
        audit.record(audit.Actor(user, "web"), "user.password_changed", "user", user.id, user.email,
                     after={"password": "changed"})
    return user


def _recent_failures(session, now, *, email=None, ip=None):
    since = now - THROTTLE_WINDOW
    q = sa.select(sa.func.count(), sa.func.min(LoginAttempt.at)).where(
        LoginAttempt.result == "failure", LoginAttempt.at > since)
    if email is not None:
        last_ok = session.scalar(sa.select(sa.func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, LoginAttempt.result == "success"))
        q = q.where(LoginAttempt.email == email)
        if last_ok is not None:
            q = q.where(LoginAttempt.at > last_ok)
    else:
        q = q.where(LoginAttempt.ip == ip)
    return session.execute(q).one()


def authenticate(email: str, password: str, ip: str) -> User:
    """Check a login; every attempt is recorded. Raises DomainError with the spec's messages."""
    email = normalise_email(email)
    with write_transaction() as session:
        now = clock.now()
        refusal = _throttle_message(session, now, email, ip)
        if refusal:
            session.add(LoginAttempt(at=now, email=email, ip=ip, result="throttled"))
        else:
            user = session.scalar(sa.select(User).where(User.email == email))
            ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
            ok = ok and user is not None and user.active
            session.add(LoginAttempt(at=now, email=email, ip=ip, result="success" if ok else "failure"))
            if ok:
                user.last_login_at = now
                audit.record(audit.Actor(user, "web"), "user.login", "user", user.id, user.email)
                return user
    raise DomainError(refusal or "Email or password is incorrect.")


def _throttle_message(session, now, email, ip) -> str | None:
    for count, oldest, limit in (
            (*_recent_failures(session, now, email=email), EMAIL_LIMIT),
            (*_recent_failures(session, now, ip=ip), IP_LIMIT)):
        if count >= limit:
            minutes = max(1, math.ceil((oldest + THROTTLE_WINDOW - now).total_seconds() / 60))
            return f"Too many failed sign-in attempts. Try again in {minutes} minutes."
    return None


def record_logout(user) -> None:
    with write_transaction():
        audit.record(audit.Actor(user, "web"), "user.logout", "user", user.id, user.email)


def update_settings(actor, values: dict):
    """Save workspace settings (admin); the currency is locked once the ledger has a row."""
    from did_app.models import LedgerEntry

    with write_transaction() as session:
        ws = ensure_workspace(session)
        if "currency" in values and values["currency"] != ws.currency and session.scalar(
                sa.select(sa.exists().where(LedgerEntry.id.is_not(None)))):
            raise DomainError("The currency is locked once the ledger has entries.", "currency")
        before = {k: getattr(ws, k) for k in values}
        for key, value in values.items():
            setattr(ws, key, value)
        ws.settings_reviewed = True
        b, a = audit.diff(before, values)
        if a:
            audit.record(actor, "settings.updated", "workspace", ws.id, ws.name, before=b, after=a)
        if {"forecast_horizon_days", "time_zone"}.intersection(a):
            from did_app.lifecycle import forecast
            session.flush()
            forecast.recompute_cutoff(session)  # the horizon or the local days moved
    return ws
