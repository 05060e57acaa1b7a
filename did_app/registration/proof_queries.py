"""Reads for the proof pages (registration.md §4): an identity's or address's proofs with their files,
the proof types an entity may take, and the Proofs section's context for the identity and address
pages."""
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from did_app import clock
from did_app.db import db
from did_app.models import Proof, ProofType, User, VerificationRequest, VerificationRequestProof
from did_app.registration import queries

ENTITY_ORDER = ("personal", "business", "address")


@dataclass(frozen=True)
class ProofRow:
    """One proof as its list shows it."""
    proof: Proof
    type_name: str
    expired: bool
    uploader: str | None
    backs: str | None  # the pending or approved request it backs (its delete is refused)


def all_types() -> dict[str, list[ProofType]]:
    """Every proof type, by the entity it proves, live ones first, then by name."""
    rows = db.session.scalars(sa.select(ProofType).order_by(ProofType.retired, ProofType.name)).all()
    return {entity: [t for t in rows if t.entity == entity] for entity in ENTITY_ORDER}


def _today() -> date:
    return clock.now().date()


def proofs_of(entity: str, entity_id: int) -> list[ProofRow]:
    """The proofs of an identity or address, newest first, each with its type, uploader and the
    request it backs; three queries whatever the count."""
    column = Proof.identity_id if entity == "identity" else Proof.address_id
    rows = db.session.execute(
        sa.select(Proof, ProofType.name, User.display_name)
        .join(ProofType, ProofType.id == Proof.proof_type_id)
        .outerjoin(User, User.id == Proof.uploaded_by)
        .where(column == entity_id).order_by(Proof.uploaded_at.desc(), Proof.id.desc())).all()
    backs = _backing([proof.id for proof, _, _ in rows])
    today = _today()
    return [ProofRow(proof, name, proof.expires_on is not None and proof.expires_on < today, uploader,
                     backs.get(proof.id)) for proof, name, uploader in rows]


def _backing(proof_ids: list[int]) -> dict[int, str]:
    if not proof_ids:
        return {}
    rows = db.session.execute(
        sa.select(VerificationRequestProof.proof_id, VerificationRequest.reference)
        .join(VerificationRequest, VerificationRequest.id == VerificationRequestProof.request_id)
        .where(VerificationRequestProof.proof_id.in_(proof_ids),
               VerificationRequest.status.in_(("pending", "approved")))
        .order_by(VerificationRequest.id.desc())).all()
    return {proof_id: reference for proof_id, reference in rows}


def section(entity: str, entity_id: int, kind: str, state: dict | None = None) -> dict:
    """The Proofs section's context for the identity or address page: its proofs, the types an
    upload may choose, and the state of a refused upload or delete (`errors`, `values`, `refusal`
    as (proof id, message))."""
    state = state or {}
    return dict(proofs=proofs_of(entity, entity_id), proof_types=queries.proof_type_choices(kind),
                proof_errors=state.get("errors", {}), proof_values=state.get("values", {}),
                proof_refusal=state.get("refusal"))
