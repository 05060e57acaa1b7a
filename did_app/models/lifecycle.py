"""Orders, port-in requests, the ledger."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from did_app.models._base import UTCDateTime, created_at_column, db, fk, portable_enum

LEDGER_KINDS = ("top_up", "adjustment", "add_charge", "renewal", "manual_renewal",
                "restore_charge", "pool_charge", "refund")
PORT_STATUSES = {"pending": "Pending", "in_progress": "In progress",
                 "changes_required": "Changes required", "completed": "Completed",
                 "cancelled": "Cancelled"}


class Order(db.Model):
    __tablename__ = "orders"  # ORDER is a reserved word
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(sa.String(20), unique=True)  # ORD-000123
    kind: Mapped[str] = mapped_column(portable_enum("add", "import", "port_in", name="order_kind"))
    status: Mapped[str] = mapped_column(
        portable_enum("pending", "completed", "cancelled", name="order_status"))
    external_reference: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = created_at_column()
    created_by: Mapped[int | None] = fk("user.id")
    number_count: Mapped[int] = mapped_column(default=0)
    port_in_request_id: Mapped[int | None] = fk("port_in_request.id")

    @property
    def display_reference(self) -> str:
        return self.external_reference or self.reference


class PortInRequest(db.Model):
    __tablename__ = "port_in_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(sa.String(20), unique=True)  # PI-000123
    status: Mapped[str] = mapped_column(portable_enum(*PORT_STATUSES, name="port_in_status"),
                                        default="pending")
    status_comment: Mapped[str | None] = mapped_column(sa.String(2000))
    losing_carrier: Mapped[str] = mapped_column(sa.String(100))
    account_number: Mapped[str | None] = mapped_column(sa.String(100))
    requested_date: Mapped[date | None]
    identity_id: Mapped[int | None] = fk("identity.id")
    notes: Mapped[str | None] = mapped_column(sa.String(2000))
    common_fields: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = created_at_column()
    created_by: Mapped[int | None] = fk("user.id")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return PORT_STATUSES[self.status]


class LedgerEntry(db.Model):
    """One money movement; never edited or deleted. Numbers are kept as text as well as id."""
    __tablename__ = "ledger_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_at_column()
    kind: Mapped[str] = mapped_column(portable_enum(*LEDGER_KINDS, name="ledger_kind"))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    balance_after_minor: Mapped[int] = mapped_column(sa.BigInteger)
    number_id: Mapped[int | None] = mapped_column(index=True)  # no FK: released numbers keep rows
    number: Mapped[str | None] = mapped_column(sa.String(16))
    pool_id: Mapped[int | None] = fk("capacity_pool.id")
    order_id: Mapped[int | None] = fk("orders.id")
    batch_id: Mapped[int | None] = fk("batch.id")
    actor_id: Mapped[int | None] = fk("user.id")
    actor_label: Mapped[str | None] = mapped_column(sa.String(254))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    detail: Mapped[dict | None] = mapped_column(sa.JSON)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    __table_args__ = (sa.Index("ix_ledger_entry_at", "at"),
                      # the per-number totals read only this index
                      sa.Index("ix_ledger_entry_number_totals", "number_id", "kind", "amount_minor", "at", "number"))
