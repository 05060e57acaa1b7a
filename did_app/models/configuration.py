"""Voice routes, SMS routes, capacity pools and groups, configuration profiles and rules."""
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from did_app.models._base import UTCDateTime, created_at_column, db, fk, portable_enum

ROUTE_KINDS = ("trunk", "group")


class VoiceRoute(db.Model):
    """A voice trunk or a voice trunk group: one id space, so a number has one voice_route_id."""
    __tablename__ = "voice_route"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(portable_enum(*ROUTE_KINDS, name="voice_route_kind"))
    name: Mapped[str] = mapped_column(sa.String(100))
    name_key: Mapped[str] = mapped_column(sa.String(100), unique=True)  # lower(trim(name))
    description: Mapped[str | None] = mapped_column(sa.String(255))
    capacity_limit: Mapped[int | None]
    # trunk attributes (null on groups)
    trunk_kind: Mapped[str | None] = mapped_column(portable_enum("sip", "pstn", name="trunk_kind"))
    group_id: Mapped[int | None] = fk("voice_route.id", ondelete="SET NULL")
    priority: Mapped[int] = mapped_column(default=1)
    weight: Mapped[int] = mapped_column(default=100)
    cli_format: Mapped[str] = mapped_column(
        portable_enum("raw", "e164", "local", name="cli_format"), default="e164")
    cli_prefix: Mapped[str | None] = mapped_column(sa.String(7))
    ringing_timeout: Mapped[int | None]
    host: Mapped[str | None] = mapped_column(sa.String(255))
    port: Mapped[int | None]
    username: Mapped[str | None] = mapped_column(sa.String(64))
    transport: Mapped[str | None] = mapped_column(portable_enum("udp", "tcp", "tls", name="transport"))
    codecs: Mapped[list | None] = mapped_column(sa.JSON)
    auth_enabled: Mapped[bool] = mapped_column(default=False)
    auth_user: Mapped[str | None] = mapped_column(sa.String(64))
    auth_password: Mapped[str | None] = mapped_column(sa.String(64))  # secret: never shown or audited
    auth_from_user: Mapped[str | None] = mapped_column(sa.String(64))
    auth_from_domain: Mapped[str | None] = mapped_column(sa.String(255))
    media_encryption: Mapped[str | None] = mapped_column(
        portable_enum("disabled", "srtp_sdes", "srtp_dtls", "zrtp", name="media_encryption"))
    destination: Mapped[str | None] = mapped_column(sa.String(16))
    per_minute_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("capacity_limit BETWEEN 1 AND 32767", name="capacity_limit_range"),
        sa.Index("ix_voice_route_group_priority", "group_id", "priority", "weight"),
    )

    group = relationship("VoiceRoute", remote_side=[id], foreign_keys=[group_id], lazy="raise")

    @property
    def is_group(self) -> bool:
        return self.kind == "group"

    @property
    def summary(self) -> str:
        if self.kind == "group":
            return "Trunk group"
        if self.trunk_kind == "pstn":
            return self.destination or ""
        port = f":{self.port}" if self.port else ""
        return f"sip:{self.username or ''}@{self.host}{port};{self.transport}"


class SmsRoute(db.Model):
    """An SMS trunk or SMS trunk group, sharing one id space."""
    __tablename__ = "sms_route"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(portable_enum(*ROUTE_KINDS, name="sms_route_kind"))
    name: Mapped[str] = mapped_column(sa.String(100))
    name_key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(255))
    trunk_kind: Mapped[str | None] = mapped_column(portable_enum(
        "sms_to_email", "http_in", "smpp_esme", "smpp_smsc", name="sms_trunk_kind"))
    blocked: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(default=100)
    group_id: Mapped[int | None] = fk("sms_route.id", ondelete="SET NULL")
    settings: Mapped[dict | None] = mapped_column(sa.JSON)  # kind-specific attributes
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    group = relationship("SmsRoute", remote_side=[id], foreign_keys=[group_id], lazy="raise")


class CapacityPool(db.Model):
    __tablename__ = "capacity_pool"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    total_channels: Mapped[int] = mapped_column(default=0)
    setup_price_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    monthly_price_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    metered_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6))
    renew_date: Mapped[date | None]
    renewal_failed_on: Mapped[date | None]
    created_at: Mapped[datetime] = created_at_column()
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    countries = relationship("CapacityPoolCountry", lazy="selectin", cascade="all, delete-orphan")

    @property
    def country_codes(self) -> list[str]:
        return sorted(c.country for c in self.countries)


class CapacityPoolCountry(db.Model):
    __tablename__ = "capacity_pool_country"
    pool_id: Mapped[int] = mapped_column(sa.ForeignKey("capacity_pool.id", ondelete="CASCADE"),
                                         primary_key=True)
    country: Mapped[str] = mapped_column(sa.String(3), primary_key=True, index=True)


class CapacityGroup(db.Model):
    """A shared capacity group: pool channels shared by its numbers, plus metered overflow."""
    __tablename__ = "capacity_group"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str | None] = mapped_column(sa.String(255))
    pool_id: Mapped[int] = fk("capacity_pool.id", nullable=False)
    shared_channels: Mapped[int] = mapped_column(default=0)
    metered_channels: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("metered_channels BETWEEN 0 AND 1000", name="metered_range"),
        sa.CheckConstraint("shared_channels >= 0", name="shared_not_negative"),
    )

    pool = relationship("CapacityPool", lazy="select")


class ConfigurationProfile(db.Model):
    __tablename__ = "configuration_profile"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    voice_route_id: Mapped[int | None] = fk("voice_route.id")
    sms_route_id: Mapped[int | None] = fk("sms_route.id")
    capacity_group_id: Mapped[int | None] = fk("capacity_group.id")
    capacity_limit: Mapped[int | None]
    description: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


RULE_LEVELS = ("global", "country", "number_type", "region", "city")  # ascending specificity


class Rule(db.Model):
    __tablename__ = "rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    profile_id: Mapped[int] = fk("configuration_profile.id", nullable=False)
    countries: Mapped[list] = mapped_column(sa.JSON, default=list)
    number_types: Mapped[list] = mapped_column(sa.JSON, default=list)
    regions: Mapped[list] = mapped_column(sa.JSON, default=list)
    cities: Mapped[list] = mapped_column(sa.JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    profile = relationship("ConfigurationProfile", lazy="joined")

    @property
    def level(self) -> str:
        if self.cities:
            return "city"
        if self.regions:
            return "region"
        if self.number_types:
            return "number_type"
        if self.countries:
            return "country"
        return "global"
