"""The workspace row: settings, balance and the stored renewal-risk cutoff."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from did_app.models._base import UTCDateTime, created_at_column, db

DEFAULT_REMINDER_OFFSETS = [30, 7, 1]


class Workspace(db.Model):
    __tablename__ = "workspace"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), default="My Numbers")
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    default_country: Mapped[str] = mapped_column(sa.String(2), default="US")
    warn_days: Mapped[int] = mapped_column(default=7)
    critical_days: Mapped[int] = mapped_column(default=1)
    reminder_offsets: Mapped[list] = mapped_column(sa.JSON, default=lambda: list(DEFAULT_REMINDER_OFFSETS))
    forecast_horizon_days: Mapped[int] = mapped_column(default=30)
    registration_deadline_days: Mapped[int] = mapped_column(default=30)
    resubmit_grace_days: Mapped[int] = mapped_column(default=7)
    aging_pool_days: Mapped[int] = mapped_column(default=34)
    restore_window_days: Mapped[int] = mapped_column(default=35)
    undo_window_hours: Mapped[int] = mapped_column(default=24)
    digest_hour: Mapped[int] = mapped_column(default=8)
    webhook_url: Mapped[str | None] = mapped_column(sa.String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(sa.String(128))
    webhook_enabled: Mapped[bool] = mapped_column(default=False)
    balance_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # renewals at or after this instant won't be covered by the balance (lifecycle.md §10);
    # null means every renewal in the horizon is covered
    renewal_risk_cutoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settings_reviewed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __table_args__ = (sa.CheckConstraint("balance_minor >= 0", name="balance_not_negative"),)
