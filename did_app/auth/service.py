"""Users, first run, login with database-stored throttling, server-side sessions (access.md §1–§5)."""
import hashlib
import math
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from did_app import audit, clock
from did_app.db import db, write_transaction
from did_app.errors import Conflict, DomainError
from did_app.lifecycle import forecast
from did_app.models import LedgerEntry, LoginAttempt, User, UserSession
from did_app.workspace import ensure_workspace

STALE_USER = "This user was changed by someone else meanwhile; the form now shows the current values."
STALE_SETTINGS = "The settings were changed by someone else meanwhile; the form now shows the current values."
THROTTLE_WINDOW = timedelta(minutes=15)
# failures that refuse the next attempt: for the email from this IP, for the email, for the IP
PAIR_LIMIT, EMAIL_LIMIT, IP_LIMIT = 5, 20, 20
# checked for unknown emails too, so the response time reveals nothing
_DUMMY_HASH = generate_password_hash("not-a-real-password-at-all")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def any_user_exists() -> bool:
    return db.session.scalar(sa.select(sa.exists().where(User.id.is_not(None))))


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_session_user(token: str):
    """Flask-Login loader for "user id:session version:session key", in one query (user joined to
    its session row). Only a live session counts: its row not revoked (logout) nor past `expires_at`
    (14 days after login), the user active and the session version unchanged (sign out everywhere,
    password, role or active changes). Anything else is no user, so the request goes to login."""
    try:
        user_id, version, key = token.split(":")
        user_id, version = int(user_id), int(version)
    except ValueError:
        return None
    row = db.session.execute(
        sa.select(User, UserSession.id).join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.key_hash == _key_hash(key), UserSession.revoked_at.is_(None),
               UserSession.expires_at > clock.now(), User.id == user_id,
               User.session_version == version, User.active.is_(True))).first()
    if row is None:
        return None
    user = row[0]
    user.session_row_id, user.session_key = row[1], key
    return user


def _open_session(session, user, now) -> None:
    """Add a session row; its key goes on `user` for login_user() (User.get_id)."""
    key = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, key_hash=_key_hash(key), created_at=now,
                            expires_at=now + current_app.config["SESSION_MAX_AGE"]))
    user.session_key = key


def _end_sessions(session, user, now) -> None:
    """End every session of `user`: a new session version, and their live rows marked revoked."""
    user.session_version += 1
    session.execute(sa.update(UserSession).where(UserSession.user_id == user.id,
                                                 UserSession.revoked_at.is_(None)).values(revoked_at=now))


def open_session(user_id: int) -> str:
    """A new session for a user who proved who they are elsewhere (test and tool logins);
    returns the value Flask-Login keeps in the cookie."""
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise DomainError("That user does not exist.")
        _open_session(session, user, clock.now())
        token = user.get_id()
    return token


def live_sessions(user_id: int) -> int:
    """How many sessions of the user are live, the current one included (every change of the
    session version also revokes the rows, so an unrevoked row before its expiry is live)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
        UserSession.expires_at > clock.now()))


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
                digest_opt_in=(role == "admin"), calendar_token=new_calendar_token())
    session.add(user)
    session.flush()
    return user


class SetupComplete(DomainError):
    """First run was already completed (by another browser, meanwhile): there is nothing to set up."""


def complete_setup(*, email, display_name, password, confirm, settings: dict) -> User:
    """First run: create the first admin and save the workspace settings in one transaction.

    Raises SetupComplete ("Setup is already complete.") when any user exists by then.
    """
    email = normalise_email(email)
    check_password_rules(password, confirm, email)
    with write_transaction() as session:
        if session.scalar(sa.select(sa.exists().where(User.id.is_not(None)))):
            raise SetupComplete("Setup is already complete.")
        user = _new_user(session, email, display_name.strip(), "admin", password)
        _open_session(session, user, clock.now())
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


def update_user(actor, user_id: int, *, display_name: str, role: str, active: bool,
                version: int | None = None) -> User:
    """Change a user's name, role or active flag. The last active admin stays an active admin.

    Raises Conflict when `version` (the edited form's) is no longer the user's.
    """
    if not 1 <= len(display_name.strip()) <= 80:
        raise DomainError("Display name must be 1–80 characters.", "display_name")
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise DomainError("That user does not exist.")
        if version is not None and version != user.version:
            raise Conflict(STALE_USER)
        losing_admin = user.role == "admin" and user.active and (role != "admin" or not active)
        if losing_admin and _active_admins(session) <= 1:
            raise DomainError("At least one active admin is required.", "role")
        before = {"display_name": user.display_name, "role": user.role, "active": user.active}
        after = {"display_name": display_name.strip(), "role": role, "active": active}
        b, a = audit.diff(before, after)
        if not a:
            return user
        if "role" in a or "active" in a:
            _end_sessions(session, user, clock.now())  # the new role or state applies at the next login
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
        _end_sessions(session, user, clock.now())
        audit.record(actor, "user.password_reset", "user", user.id, user.email,
                     after={"password": "changed"})
    return temporary


def change_password(user_id: int, *, current: str, new: str, confirm: str) -> User:
    """A user changes their own password: every session ends, and a new one is opened for this
    browser (its key on the returned user, for login_user())."""
    with write_transaction() as session:
        user = session.get(User, user_id)
        if not check_password_hash(user.password_hash, current or ""):
            raise DomainError("Current password is incorrect.", "current")
        check_password_rules(new, confirm, user.email)
        user.password_hash = generate_password_hash(new)
        user.must_change_password = False
        now = clock.now()
        _end_sessions(session, user, now)
        _open_session(session, user, now)
        audit.record(audit.Actor(user, "web"), "user.password_changed", "user", user.id, user.email,
                     after={"password": "changed"})
    return user


def authenticate(email: str, password: str, ip: str) -> User:
    """Check a login; every attempt is recorded. Raises DomainError with the spec's messages.

    On success a session is opened in the same transaction (its key on the returned user)."""
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
                _open_session(session, user, now)
                audit.record(audit.Actor(user, "web"), "user.login", "user", user.id, user.email)
                return user
    raise DomainError(refusal or "Email or password is incorrect.")


def _throttle_message(session, now, email, ip) -> str | None:
    """The refusal for an attempt, or None (access.md §4). Failures count when they are in the last
    15 minutes (for the email's own limits, only those after its last success): 5 for the email from
    this IP, 20 for the email, or 20 for the IP refuse it. Throttled attempts are no failures, so they
    never extend a lock."""
    window = now - THROTTLE_WINDOW
    last_ok = session.scalar(sa.select(sa.func.max(LoginAttempt.at)).where(
        LoginAttempt.email == email, LoginAttempt.result == "success"))
    since_ok = max(window, last_ok) if last_ok is not None else window
    waits = []
    # the IP's count ignores the email's last success: spraying many active accounts from one
    # address must not reset it with every account's own sign-in
    for scope, limit, since in ((sa.and_(LoginAttempt.email == email, LoginAttempt.ip == ip), PAIR_LIMIT, since_ok),
                                (LoginAttempt.email == email, EMAIL_LIMIT, since_ok),
                                (LoginAttempt.ip == ip, IP_LIMIT, window)):
        count, oldest = session.execute(sa.select(sa.func.count(), sa.func.min(LoginAttempt.at)).where(
            scope, LoginAttempt.result == "failure", LoginAttempt.at > since)).one()
        if count >= limit:
            waits.append(oldest + THROTTLE_WINDOW - now)
    if not waits:
        return None
    # several limits reached: the attempt is refused until the last of them is clear
    minutes = max(1, math.ceil(max(waits).total_seconds() / 60))
    return f"Too many failed sign-in attempts. Try again in {minutes} minutes."


def logout(user) -> None:
    """End the session `user` was loaded with (its row revoked: a copy of the cookie stops working);
    the user's other sessions stay."""
    with write_transaction() as session:
        session.execute(sa.update(UserSession).where(
            UserSession.id == user.session_row_id, UserSession.revoked_at.is_(None)).values(revoked_at=clock.now()))
        audit.record(audit.Actor(user, "web"), "user.logout", "user", user.id, user.email)


def sign_out_everywhere(user_id: int) -> None:
    """End every session of the user, this one included (a new session version)."""
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise DomainError("That user does not exist.")
        _end_sessions(session, user, clock.now())
        audit.record(audit.Actor(user, "web"), "user.signed_out_everywhere", "user", user.id, user.email)


# ---- profile: digest opt-in and the calendar feed's secret (lifecycle.md §12, §13) ---------------

def new_calendar_token() -> str:
    """32 random URL-safe characters (24 bytes of randomness)."""
    return secrets.token_urlsafe(24)


def calendar_token(user_id: int) -> str:
    """The user's calendar feed token, made now for a user created before tokens existed."""
    token = db.session.scalar(sa.select(User.calendar_token).where(User.id == user_id))
    if token:
        return token
    with write_transaction() as session:
        # conditional: a second tab showing the profile at the same moment keeps the first token
        session.execute(sa.update(User).where(User.id == user_id, User.calendar_token.is_(None))
                        .values(calendar_token=new_calendar_token()).execution_options(synchronize_session=False))
        token = session.scalar(sa.select(User.calendar_token).where(User.id == user_id))
    if token is None:
        raise DomainError("That user does not exist.")
    return token


def reset_calendar_token(user_id: int) -> str:
    """Replace the user's calendar feed token: the old feed URL answers 404 from now on."""
    token = new_calendar_token()
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise DomainError("That user does not exist.")
        user.calendar_token = token
        audit.record(audit.Actor(user, "web"), "user.calendar_link_reset", "user", user.id, user.email)
    return token


def set_digest_opt_in(user_id: int, opt_in: bool) -> bool:
    """Opt the user in to (or out of) the daily email digest; returns whether anything changed."""
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise DomainError("That user does not exist.")
        if user.digest_opt_in == opt_in:
            return False
        audit.record(audit.Actor(user, "web"), "user.digest_opt_in_changed", "user", user.id, user.email,
                     before={"digest_opt_in": user.digest_opt_in}, after={"digest_opt_in": opt_in})
        user.digest_opt_in = opt_in
    return True


def update_settings(actor, values: dict, version: int | None = None):
    """Save workspace settings (admin); the currency is locked once the ledger has a row.

    Raises Conflict when `version` (the edited form's) is no longer the settings row's; a save that
    changes something moves the version on.
    """

    with write_transaction() as session:
        ws = ensure_workspace(session)
        if version is not None and version != ws.version:
            raise Conflict(STALE_SETTINGS)
        if "currency" in values and values["currency"] != ws.currency and session.scalar(
                sa.select(sa.exists().where(LedgerEntry.id.is_not(None)))):
            raise DomainError("The currency is locked once the ledger has entries.", "currency")
        before = {k: getattr(ws, k) for k in values}
        for key, value in values.items():
            setattr(ws, key, value)
        ws.settings_reviewed = True
        b, a = audit.diff(before, values)
        if a:
            ws.version += 1  # no version_id_col: balance writes must not make an open Settings form stale
            audit.record(actor, "settings.updated", "workspace", ws.id, ws.name, before=b, after=a)
        if {"forecast_horizon_days", "time_zone"}.intersection(a):
            session.flush()
            forecast.recompute_cutoff(session)  # the horizon or the local days moved
    return ws
