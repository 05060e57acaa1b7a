"""Users, their sign-in sessions, login attempts, API tokens."""
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

from did_app.models._base import UTCDateTime, created_at_column, db, fk, portable_enum

ROLES = ("admin", "operator", "viewer")


class User(UserMixin, db.Model):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-cased
    display_name: Mapped[str] = mapped_column(sa.String(80))
    role: Mapped[str] = mapped_column(portable_enum(*ROLES, name="user_role"))
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    session_version: Mapped[int] = mapped_column(default=1)
    digest_opt_in: Mapped[bool] = mapped_column(default=False)
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive users cannot log in
        return self.active

    # the session this object was signed in or loaded with (set by the auth service; not columns)
    session_key = None
    session_row_id = None

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookie: "user id:session version:session key"."""
        return f"{self.id}:{self.session_version}:{self.session_key}"


class UserSession(db.Model):
    """One sign-in (access.md §4, §5). The cookie carries "user id:session version:key"; only the
    key's SHA-256 is stored. Logout sets `revoked_at`; a session is live while it is not revoked,
    `expires_at` (login + SESSION_MAX_AGE) is ahead and the user's session version still matches."""
    __tablename__ = "user_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = fk("user.id", nullable=False)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(db.Model):
    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_at_column()
    email: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str] = mapped_column(sa.String(64))
    result: Mapped[str] = mapped_column(
        portable_enum("success", "failure", "throttled", name="login_result"))
    __table_args__ = (sa.Index("ix_login_attempt_email_at", "email", "at"),
                      sa.Index("ix_login_attempt_ip_at", "ip", "at"))


class ApiToken(db.Model):
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = fk("user.id", nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
