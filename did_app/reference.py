"""Reference rows every workspace starts with: requirements, proof types, reject reasons.

The first migration inserts the same rows (migrations must not import app code); tests that
build the schema with create_all() call `seed_reference_data()`.
"""
import sqlalchemy as sa

from did_app.models import ProofType, RejectReason, Requirement
from did_app.registration.requirements import SEED_ROWS

PROOF_TYPES = {
    "personal": ("Passport", "National ID card", "Driving licence"),
    "business": ("Certificate of incorporation", "Company register extract", "VAT certificate"),
    "address": ("Utility bill", "Bank statement", "Lease or title deed", "Government letter"),
}
REJECT_REASONS = (
    "Identity document unreadable or incomplete", "Name does not match the proof",
    "Address is outside the required area", "Proof of address is too old",
    "Missing mandatory information", "Proof type not accepted", "Other (see comment)",
)


def seed_reference_data(session) -> None:
    """Insert the reference rows that are missing (idempotent)."""
    if not session.scalar(sa.select(sa.func.count()).select_from(Requirement)):
        session.add_all(Requirement(**row) for row in SEED_ROWS)
    if not session.scalar(sa.select(sa.func.count()).select_from(ProofType)):
        session.add_all(ProofType(entity=entity, name=name)
                        for entity, names in PROOF_TYPES.items() for name in names)
    if not session.scalar(sa.select(sa.func.count()).select_from(RejectReason)):
        session.add_all(RejectReason(text=text, position=i, needs_comment=text.startswith("Other"))
                        for i, text in enumerate(REJECT_REASONS))
