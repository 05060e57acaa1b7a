"""Shared column helpers for the models."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from did_app import clock
from did_app.db import UTCDateTime, db, portable_enum  # noqa: F401  (re-exported)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=clock.now)


def fk(target: str, *, nullable: bool = True, ondelete: str | None = None):
    return mapped_column(sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


