"""Audit history, batches, reminders and notifications."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from did_app.models._base import UTCDateTime, created_at_column, db, fk, portable_enum


class AuditEvent(db.Model):
    """One immutable history row (access.md §6)."""
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_at_column()
    actor_id: Mapped[int | None] = fk("user.id")
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    source: Mapped[str] = mapped_column(portable_enum("web", "api", "scheduler", "cli", name="audit_source"))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[int | None]
    object_label: Mapped[str] = mapped_column(sa.String(255))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    batch_id: Mapped[int | None] = fk("batch.id")
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    request_id: Mapped[str | None] = mapped_column(sa.String(32))
    __table_args__ = (
        sa.Index("ix_audit_event_object", "object_type", "object_id", "at"),
        sa.Index("ix_audit_event_object_label", "object_type", "object_label"),
        sa.Index("ix_audit_event_at", "at"),
    )


class Batch(db.Model):
    __tablename__ = "batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    selection: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {"filter": qs} or {"ids": [...]}
    status: Mapped[str] = mapped_column(portable_enum(
        "previewed", "applying", "applied", "failed", "undone", "expired", name="batch_status"))
    created_by: Mapped[int | None] = fk("user.id")
    created_at: Mapped[datetime] = created_at_column()
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by: Mapped[int | None] = fk("user.id")
    change_count: Mapped[int] = mapped_column(default=0)
    skip_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    total_cost_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    message: Mapped[str | None] = mapped_column(sa.String(1000))
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    @property
    def reference(self) -> str:
        return f"B-{self.id:06d}"


class BatchItem(db.Model):
    __tablename__ = "batch_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("batch.id", ondelete="CASCADE"))
    number_id: Mapped[int] = mapped_column(index=True)
    number: Mapped[str] = mapped_column(sa.String(16))
    outcome: Mapped[str] = mapped_column(portable_enum("change", "skip", "error", name="batch_outcome"))
    reason: Mapped[str | None] = mapped_column(sa.String(255))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    cost_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    version_before: Mapped[int | None]
    version_after: Mapped[int | None]
    __table_args__ = (sa.Index("ix_batch_item_batch_outcome", "batch_id", "outcome", "number_id"),)


class Notification(db.Model):
    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), index=True)
    created_at: Mapped[datetime] = created_at_column()
    due_on: Mapped[date | None]
    offset_days: Mapped[int | None]
    count: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(sa.String(1000))
    list_token: Mapped[str | None] = mapped_column(sa.String(32))
    payload: Mapped[dict | None] = mapped_column(sa.JSON)


class NotificationRead(db.Model):
    __tablename__ = "notification_read"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True, index=True)
    read_at: Mapped[datetime] = created_at_column()


class ReminderClaim(db.Model):
    """Exactly-once claim of a reminder (lifecycle.md §11)."""
    __tablename__ = "reminder_claim"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject_type: Mapped[str] = mapped_column(sa.String(20))
    subject_id: Mapped[int]
    due_on: Mapped[date]
    offset_days: Mapped[int]
    state: Mapped[str] = mapped_column(portable_enum("claimed", "skipped", name="claim_state"))
    claimed_at: Mapped[datetime] = created_at_column()
    notification_id: Mapped[int | None] = fk("notification.id", ondelete="SET NULL")
    __table_args__ = (sa.UniqueConstraint("kind", "subject_type", "subject_id", "due_on", "offset_days",
                                          name="uq_reminder_claim_key"),)


class Delivery(db.Model):
    """An outside delivery (email digest or webhook): at-least-once, with a stable id."""
    __tablename__ = "delivery"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(portable_enum("email", "webhook", name="delivery_channel"))
    notification_id: Mapped[int | None] = fk("notification.id", ondelete="SET NULL")
    user_id: Mapped[int | None] = fk("user.id")
    status: Mapped[str] = mapped_column(
        portable_enum("pending", "sending", "sent", "failed", name="delivery_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    response_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (sa.Index("ix_delivery_status_next", "status", "next_attempt_at"),)


class DigestItem(db.Model):
    __tablename__ = "digest_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = fk("user.id", nullable=False)
    notification_id: Mapped[int] = fk("notification.id", nullable=False, ondelete="CASCADE")
    delivery_id: Mapped[int | None] = fk("delivery.id")
    __table_args__ = (sa.UniqueConstraint("user_id", "notification_id", name="uq_digest_item_user_notification"),)
