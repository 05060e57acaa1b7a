"""The Number entity (numbers.md §1) and its service rows."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from did_app.models._base import UTCDateTime, created_at_column, db, fk, portable_enum

NUMBER_TYPES = {
    "local": "Local", "mobile": "Mobile", "national": "National",
    "shared_cost": "Shared cost", "toll_free": "Toll-free", "global": "Global (UIFN)",
}
CAPACITY_MODES = {"two_included": "2 included", "zero_included": "0 included",
                  "metered": "Metered", "fixed": "Fixed"}
# order of numbers.md §3; the bit is the stored representation of the feature set
FEATURES = {
    "voice_in": ("Voice", 1), "voice_out": ("Local CLI", 2), "t38": ("Fax (T.38)", 4),
    "sms_in": ("SMS in", 8), "sms_out": ("SMS out", 16), "emergency": ("Emergency", 32),
    "cnam_out": ("CNAM", 64),
}
VOICE_IN, SMS_IN = FEATURES["voice_in"][1], FEATURES["sms_in"][1]
STATUSES = {  # order of numbers.md §4.2 (first match wins)
    "porting": "Porting in progress",
    "awaiting_registration": "Awaiting registration",
    "terminated": "Terminated",
    "not_configured": "Not configured",
    "active": "Active",
}
SWITCHABLE_TYPES = ("local", "national", "mobile")
SWITCHABLE_MODES = ("two_included", "zero_included")


def features_mask(codes) -> int:
    return sum(FEATURES[c][1] for c in set(codes))


def features_codes(mask: int) -> list[str]:
    return [code for code, (_, bit) in FEATURES.items() if mask & bit]


class Number(db.Model):
    __tablename__ = "number"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(16), unique=True)
    country: Mapped[str] = mapped_column(sa.String(3))  # indexed with number, below
    region: Mapped[str | None] = mapped_column(sa.String(100))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    number_type: Mapped[str] = mapped_column(portable_enum(*NUMBER_TYPES, name="number_type"))
    features: Mapped[int] = mapped_column(default=VOICE_IN)  # bit set, see FEATURES
    needs_registration: Mapped[bool] = mapped_column(default=False)
    awaiting_registration: Mapped[bool] = mapped_column(default=False)
    registration_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capacity_mode: Mapped[str] = mapped_column(portable_enum(*CAPACITY_MODES, name="capacity_mode"))
    channels_included: Mapped[int] = mapped_column(default=2)
    allow_additional_channels: Mapped[bool] = mapped_column(default=True)
    next_capacity_mode: Mapped[str | None] = mapped_column(
        portable_enum("two_included", "zero_included", name="next_capacity_mode"))
    next_monthly_price_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    dedicated_channels: Mapped[int] = mapped_column(default=0)
    capacity_pool_id: Mapped[int | None] = fk("capacity_pool.id")
    capacity_group_id: Mapped[int | None] = fk("capacity_group.id")
    capacity_limit: Mapped[int | None]
    voice_route_id: Mapped[int | None] = fk("voice_route.id")
    sms_route_id: Mapped[int | None] = fk("sms_route.id")
    description: Mapped[str | None] = mapped_column(sa.String(255))
    billing_cycles_count: Mapped[int | None]
    monthly_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    setup_price_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    billing_anchor_day: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = created_at_column()
    created_by: Mapped[int | None] = fk("user.id")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    porting: Mapped[bool] = mapped_column(default=False)
    port_in_request_id: Mapped[int | None] = fk("port_in_request.id")
    order_id: Mapped[int | None] = fk("orders.id")
    identity_id: Mapped[int | None] = fk("identity.id")
    verification_request_id: Mapped[int | None] = fk("verification_request.id")
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = fk("user.id")
    status: Mapped[str] = mapped_column(portable_enum(*STATUSES, name="number_status"),
                                        default="not_configured")
    expiring_soon: Mapped[bool] = mapped_column(default=False)
    # the part of "Needs attention" that does not depend on the clock (not configured, awaiting
    # with missing or rejected details, expired), stored like status so the count is an index count
    attention_static: Mapped[bool] = mapped_column(default=False)
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("cancelled_at IS NULL OR expired_at IS NULL", name="not_cancelled_and_expired"),
        sa.CheckConstraint("dedicated_channels = 0 OR capacity_pool_id IS NOT NULL",
                           name="dedicated_needs_pool"),
        sa.CheckConstraint("billing_cycles_count BETWEEN 0 AND 999", name="billing_cycles_range"),
        sa.CheckConstraint("capacity_limit BETWEEN 1 AND 32767", name="capacity_limit_range"),
        sa.CheckConstraint("features > 0", name="features_not_empty"),
        sa.Index("ix_number_expires_at_number", "expires_at", "number"),
        # the quick-filter counts read only this index (a covering scan)
        sa.Index("ix_number_status_expiring_soon", "status", "expiring_soon"),
        sa.Index("ix_number_status_expires_at", "status", "expires_at", "number"),
        sa.Index("ix_number_status_number", "status", "number"),
        sa.Index("ix_number_status_country", "status", "country"),
        sa.Index("ix_number_attention_static", "attention_static"),
        sa.Index("ix_number_cancelled_at", "cancelled_at"),
        # the reminders job reads aging and deadline due dates as ranges (lifecycle.md §12)
        sa.Index("ix_number_expired_at", "expired_at"),
        sa.Index("ix_number_registration_deadline_at", "registration_deadline_at"),
        # covers the quick-filter count "cancelled, restore window ending" (status and cancellation
        # together): with the status index alone SQLite reads every terminated row (0.05 → 8.6 ms)
        sa.Index("ix_number_status_cancelled_at", "status", "cancelled_at"),
        # the "Registered" verification filter (needs registration, no longer awaiting): its count and
        # its page in expiry order read this index, not every row (B2r approved: 38 → 22 ms at 100k)
        sa.Index("ix_number_registration_expires_at", "needs_registration", "awaiting_registration",
                 "expires_at", "number"),
        # ordered pages of Expiring soon, and (covering) the count of those due within warn days
        sa.Index("ix_number_expiring_soon_expires_at", "expiring_soon", "expires_at", "attention_static"),
        sa.Index("ix_number_country_number", "country", "number"),
        # the readiness blockers the Overview counts (numbers.md §6): index-only ranges per status
        sa.Index("ix_number_status_sms_route_features", "status", "sms_route_id", "features"),
        sa.Index("ix_number_status_voice_readiness", "status", "features", "voice_route_id", "capacity_mode",
                 "channels_included", "dedicated_channels", "capacity_group_id"),
        sa.Index("ix_number_status_registration", "status", "needs_registration", "expired_at", "cancelled_at"),
        # covers the renewal forecast's scans (lifecycle.md §10): the cutoff is recomputed inside
        # many write transactions and reads only this index (200 → 30 ms at 100k on SQLite)
        sa.Index("ix_number_renewal_forecast", "expires_at", "id", "monthly_price_minor", "next_capacity_mode",
                 "next_monthly_price_minor", "billing_cycles_count", "billing_anchor_day", "expired_at",
                 "cancelled_at", "porting"),
    )

    voice_route = relationship("VoiceRoute", lazy="raise")
    sms_route = relationship("SmsRoute", lazy="raise")
    capacity_group = relationship("CapacityGroup", lazy="raise")
    capacity_pool = relationship("CapacityPool", lazy="raise")
    identity = relationship("Identity", lazy="raise")
    verification_request = relationship("VerificationRequest", lazy="raise")
    order = relationship("Order", lazy="raise")
    port_in_request = relationship("PortInRequest", lazy="raise")
    services = relationship("NumberService", lazy="raise", order_by="NumberService.kind",
                            cascade="all, delete-orphan", passive_deletes=True)

    @property
    def digits(self) -> str:
        return self.number.lstrip("+")

    @property
    def feature_codes(self) -> list[str]:
        return features_codes(self.features)

    def has_feature(self, code: str) -> bool:
        return bool(self.features & FEATURES[code][1])

    @property
    def terminated(self) -> bool:
        return self.cancelled_at is not None or self.expired_at is not None

    @property
    def mode_can_switch(self) -> bool:
        return self.number_type in SWITCHABLE_TYPES and self.capacity_mode in SWITCHABLE_MODES


class NumberService(db.Model):
    """A service needing approval (CNAM OUT, emergency): one row per number and kind."""
    __tablename__ = "number_service"
    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = fk("number.id", nullable=False, ondelete="CASCADE")
    kind: Mapped[str] = mapped_column(portable_enum("cnam_out", "emergency", name="service_kind"))
    status: Mapped[str] = mapped_column(
        portable_enum("pending", "active", "rejected", name="service_status"))
    value: Mapped[str | None] = mapped_column(sa.String(255))
    identity_id: Mapped[int | None] = fk("identity.id")
    address_id: Mapped[int | None] = fk("address.id")
    requested_at: Mapped[datetime] = created_at_column()
    requested_by: Mapped[int | None] = fk("user.id")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = fk("user.id")
    reject_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    # the status index: an admin's navigation counts the pending ones on every page
    __table_args__ = (sa.UniqueConstraint("number_id", "kind", name="uq_number_service_number_kind"),
                      sa.Index("ix_number_service_status", "status"))

    @property
    def label(self) -> str:
        return "CNAM" if self.kind == "cnam_out" else "Emergency"


class SavedList(db.Model):
    """A saved number list: long pasted searches, batch and notification numbers."""
    __tablename__ = "saved_list"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    items: Mapped[list] = mapped_column(sa.JSON)  # the parsed search items (E.164 or raw)
    raw_unrecognised: Mapped[list] = mapped_column(sa.JSON, default=list)
    source: Mapped[str] = mapped_column(sa.String(20), default="search")
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime] = created_at_column()
    keep: Mapped[bool] = mapped_column(default=False)  # kept for the life of a notification
    __table_args__ = (sa.Index("ix_saved_list_last_used_at", "last_used_at"),)


class ReleasedNumber(db.Model):
    __tablename__ = "released_number"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(16), index=True)
    country: Mapped[str] = mapped_column(sa.String(3), index=True)
    region: Mapped[str | None] = mapped_column(sa.String(100))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    number_type: Mapped[str] = mapped_column(sa.String(32))
    description: Mapped[str | None] = mapped_column(sa.String(255))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(portable_enum(
        "expired", "cancelled", "registration_deadline", "removed_unregistered", "port_in_cancelled",
        name="release_reason"))
    voice_route_name: Mapped[str | None] = mapped_column(sa.String(100))
    sms_route_name: Mapped[str | None] = mapped_column(sa.String(100))
    identity_name: Mapped[str | None] = mapped_column(sa.String(255))
    order_reference: Mapped[str | None] = mapped_column(sa.String(100))
    total_charged_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total_refunded_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    old_number_id: Mapped[int] = mapped_column(index=True)
