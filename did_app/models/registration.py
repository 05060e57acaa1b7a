"""Requirements, identities, addresses, proofs and verification requests (registration.md)."""
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from did_app.models._base import UTCDateTime, created_at_column, db, fk, portable_enum

VERIFICATION_STATES = {"not_required": "Not required", "missing": "Missing",
                       "pending": "In review", "rejected": "Rejected — resubmit",
                       "approved": "Registered"}


class Requirement(db.Model):
    __tablename__ = "requirement"
    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(sa.String(3))  # ISO code or "*"
    number_type: Mapped[str] = mapped_column(sa.String(32))  # type code or "*"
    registration_required: Mapped[bool] = mapped_column(default=False)
    identity_type: Mapped[str] = mapped_column(
        portable_enum("any", "personal", "business", name="identity_type_rule"), default="any")
    address_area: Mapped[str] = mapped_column(
        portable_enum("world_wide", "country", "region", "city", name="address_area"),
        default="country")
    personal_proofs: Mapped[int] = mapped_column(default=1)
    business_proofs: Mapped[int] = mapped_column(default=1)
    address_proofs: Mapped[int] = mapped_column(default=1)
    accepted_proof_types: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # entity -> [type ids]
    personal_mandatory_fields: Mapped[list] = mapped_column(sa.JSON, default=list)
    business_mandatory_fields: Mapped[list] = mapped_column(sa.JSON, default=list)
    service_description_required: Mapped[bool] = mapped_column(default=False)
    restriction_message: Mapped[str | None] = mapped_column(sa.String(1000))
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (sa.UniqueConstraint("country", "number_type",
                                          name="uq_requirement_country_number_type"),)


class Identity(db.Model):
    __tablename__ = "identity"
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_type: Mapped[str] = mapped_column(
        portable_enum("personal", "business", name="identity_type"))
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    phone_number: Mapped[str] = mapped_column(sa.String(16))
    country: Mapped[str] = mapped_column(sa.String(3))
    company_name: Mapped[str | None] = mapped_column(sa.String(255))
    company_reg_number: Mapped[str | None] = mapped_column(sa.String(50))
    vat_id: Mapped[str | None] = mapped_column(sa.String(50))
    birth_date: Mapped[date | None]
    birth_country: Mapped[str | None] = mapped_column(sa.String(50))
    id_number: Mapped[str | None] = mapped_column(sa.String(50))
    personal_tax_id: Mapped[str | None] = mapped_column(sa.String(50))
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    description: Mapped[str | None] = mapped_column(sa.String(255))
    external_reference: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    @property
    def display_name(self) -> str:
        if self.identity_type == "business" and self.company_name:
            return self.company_name
        return f"{self.first_name} {self.last_name}"


class Address(db.Model):
    __tablename__ = "address"
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = fk("identity.id", nullable=False)
    street: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    region: Mapped[str | None] = mapped_column(sa.String(100))
    country: Mapped[str] = mapped_column(sa.String(3))
    description: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    identity = relationship("Identity", lazy="raise")

    @property
    def one_line(self) -> str:
        parts = [self.street, self.city, self.region, self.postal_code, self.country]
        return ", ".join(p for p in parts if p)


class ProofType(db.Model):
    __tablename__ = "proof_type"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(
        portable_enum("personal", "business", "address", name="proof_entity"))
    name: Mapped[str] = mapped_column(sa.String(100))
    retired: Mapped[bool] = mapped_column(default=False)
    __table_args__ = (sa.UniqueConstraint("entity", "name", name="uq_proof_type_entity_name"),)


class Proof(db.Model):
    __tablename__ = "proof"
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int | None] = fk("identity.id")
    address_id: Mapped[int | None] = fk("address.id")
    proof_type_id: Mapped[int] = fk("proof_type.id", nullable=False)
    expires_on: Mapped[date | None] = mapped_column(index=True)  # proof_expiring reminders (lifecycle.md §12)
    uploaded_at: Mapped[datetime] = created_at_column()
    uploaded_by: Mapped[int | None] = fk("user.id")
    __table_args__ = (sa.CheckConstraint("(identity_id IS NULL) <> (address_id IS NULL)",
                                         name="one_entity"),)

    proof_type = relationship("ProofType", lazy="joined")
    files = relationship("ProofFile", lazy="selectin", cascade="all, delete-orphan")


class ProofFile(db.Model):
    __tablename__ = "proof_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    proof_id: Mapped[int] = fk("proof.id", nullable=False, ondelete="CASCADE")
    path: Mapped[str] = mapped_column(sa.String(255))
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(50))
    size_bytes: Mapped[int]


class RejectReason(db.Model):
    __tablename__ = "reject_reason"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(255), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    retired: Mapped[bool] = mapped_column(default=False)
    needs_comment: Mapped[bool] = mapped_column(default=False)


class VerificationRequest(db.Model):
    __tablename__ = "verification_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(sa.String(20), unique=True)  # VR-000123
    identity_id: Mapped[int] = fk("identity.id", nullable=False)
    address_id: Mapped[int] = fk("address.id", nullable=False)
    country: Mapped[str] = mapped_column(sa.String(3))
    number_type: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(
        portable_enum("pending", "approved", "rejected", name="verification_status"), index=True)
    reject_reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    reject_comment: Mapped[str | None] = mapped_column(sa.String(2000))
    service_description: Mapped[str | None] = mapped_column(sa.String(1000))
    submitted_at: Mapped[datetime] = created_at_column()
    submitted_by: Mapped[int | None] = fk("user.id")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = fk("user.id")
    submission_count: Mapped[int] = mapped_column(default=1)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class VerificationRequestProof(db.Model):
    """The proofs a request was submitted with; such proofs are kept when replaced."""
    __tablename__ = "verification_request_proof"
    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("verification_request.id", ondelete="CASCADE"), primary_key=True)
    proof_id: Mapped[int] = mapped_column(sa.ForeignKey("proof.id"), primary_key=True, index=True)
