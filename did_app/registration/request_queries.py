"""Reads for review (registration.md §5 "Review"): the Verification requests list, one request's
page (identity, address, proofs, numbers, the checklist as it stands now, its history), the
reject reasons, and the count of requests and services waiting for review in the navigation."""
from dataclasses import dataclass

import sqlalchemy as sa

from did_app import audit, clock
from did_app.db import db
from did_app.models import (
    Address,
    AuditEvent,
    Identity,
    Number,
    NumberService,
    Proof,
    ProofFile,
    ProofType,
    RejectReason,
    VerificationRequest,
    VerificationRequestProof,
)
from did_app.registration.checklist import Item, Place, checklist
from did_app.registration.requirements import requirement_for

REQUESTS_PER_PAGE = 50
NUMBERS_SHOWN = 200
HISTORY_ROWS = 100


def waiting_for_review() -> int:
    """Requests and services waiting for an admin's decision, in one statement (the navigation
    shows it on every page an admin opens; both status columns are indexed)."""
    requests = (sa.select(sa.func.count()).select_from(VerificationRequest)
                .where(VerificationRequest.status == "pending").scalar_subquery())
    services = (sa.select(sa.func.count()).select_from(NumberService)
                .where(NumberService.status == "pending").scalar_subquery())
    return db.session.scalar(sa.select(requests + services)) or 0


# ---- the list ---------------------------------------------------------------------------------

def _identity_condition(text: str):
    """An identity id ("12") or part of its name (person or company), case-insensitively."""
    if text.isdigit() and len(text) <= 12:
        return VerificationRequest.identity_id == int(text)
    # lower() on both sides: ILIKE is PostgreSQL-only
    pattern = f"%{text.lower().replace('%', '').replace('_', '')}%"
    return VerificationRequest.identity_id.in_(sa.select(Identity.id).where(sa.or_(*(
        sa.func.lower(c).like(pattern) for c in (Identity.company_name, Identity.first_name + " " + Identity.last_name)))))


def _conditions(status, reference, identity, country) -> list:
    conds = []
    if status:
        conds.append(VerificationRequest.status == status)
    if reference:
        digits = "".join(ch for ch in reference if ch.isdigit())
        text = reference.upper().replace("%", "").replace("_", "")
        # "VR-000123", "vr-123" and "123" all find VR-000123
        conds.append(sa.or_(sa.func.upper(VerificationRequest.reference).like(f"%{text}%"),
                            *([VerificationRequest.id == int(digits)] if digits and len(digits) <= 12 else [])))
    if identity:
        conds.append(_identity_condition(identity))
    if country:
        conds.append(VerificationRequest.country == country)
    return conds


@dataclass(frozen=True)
class RequestRow:
    request: VerificationRequest
    identity_name: str
    number_count: int


def requests(status=None, reference=None, identity=None, country=None, page: int = 1,
             per_page: int = REQUESTS_PER_PAGE) -> tuple[list[RequestRow], int]:
    """One page of requests, pending first, then newest first, and the count of all that match."""
    conds = _conditions(status, reference, identity, country)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(VerificationRequest).where(*conds))
    numbers = (sa.select(sa.func.count()).where(Number.verification_request_id == VerificationRequest.id)
               .correlate(VerificationRequest).scalar_subquery())
    rows = db.session.execute(
        sa.select(VerificationRequest, Identity, numbers.label("numbers"))
        .join(Identity, Identity.id == VerificationRequest.identity_id).where(*conds)
        .order_by(sa.case((VerificationRequest.status == "pending", 0), else_=1),
                  VerificationRequest.submitted_at.desc(), VerificationRequest.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    return [RequestRow(vr, identity.display_name, n) for vr, identity, n in rows], count


def request_countries() -> list[str]:
    return db.session.scalars(sa.select(VerificationRequest.country).distinct()
                              .order_by(VerificationRequest.country)).all()


# ---- one request ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProofShown:
    proof: Proof
    type_name: str
    entity: str
    files: list


@dataclass(frozen=True)
class RequestDetail:
    request: VerificationRequest
    identity: Identity
    address: Address
    proofs: list[ProofShown]
    number_count: int
    awaiting_count: int
    numbers: list
    checklist: list[Item]
    history: list


def _proofs(request_id: int) -> list[ProofShown]:
    """The proofs the request was submitted with, and their files."""
    rows = db.session.execute(
        sa.select(Proof, ProofType.name, ProofType.entity)
        .join(VerificationRequestProof, VerificationRequestProof.proof_id == Proof.id)
        .join(ProofType, ProofType.id == Proof.proof_type_id)
        .where(VerificationRequestProof.request_id == request_id).order_by(ProofType.entity, Proof.id)).all()
    files: dict[int, list] = {}
    if rows:
        for f in db.session.scalars(sa.select(ProofFile).where(ProofFile.proof_id.in_([p.id for p, _, _ in rows]))
                                    .order_by(ProofFile.id)):
            files.setdefault(f.proof_id, []).append(f)
    return [ProofShown(p, name, entity, files.get(p.id, [])) for p, name, entity in rows]


def _place(vr: VerificationRequest) -> Place:
    """Where the request's awaiting numbers are (their regions and cities), for the address rule."""
    rows = db.session.execute(sa.select(Number.region, Number.city).distinct().where(
        Number.verification_request_id == vr.id, Number.awaiting_registration.is_(True))).all()
    return Place(vr.country, frozenset(r for r, _ in rows), frozenset(c for _, c in rows))


def request_history(vr: VerificationRequest) -> list:
    """The request's own audit rows, newest first: submissions, decisions with reasons and comment."""
    return audit.for_display(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "verification_request", AuditEvent.object_id == vr.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(HISTORY_ROWS)))


def request_detail(vr: VerificationRequest) -> RequestDetail:
    identity = db.session.get(Identity, vr.identity_id)
    address = db.session.get(Address, vr.address_id)
    linked = Number.verification_request_id == vr.id
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Number).where(linked))
    awaiting = db.session.scalar(sa.select(sa.func.count()).select_from(Number)
                                 .where(linked, Number.awaiting_registration.is_(True)))
    numbers = db.session.execute(sa.select(Number.number, Number.status, Number.awaiting_registration,
                                           Number.registration_deadline_at)
                                 .where(linked).order_by(Number.number).limit(NUMBERS_SHOWN)).all()
    items = checklist(db.session, requirement_for(vr.country, vr.number_type), identity, address, _place(vr),
                      vr.service_description, clock.now().date())
    return RequestDetail(vr, identity, address, _proofs(vr.id), count, awaiting, numbers, items,
                         request_history(vr))


# ---- reject reasons -------------------------------------------------------------------------

def reject_reasons(*, live_only: bool = False) -> list[RejectReason]:
    query = sa.select(RejectReason).order_by(RejectReason.position, RejectReason.id)
    if live_only:
        query = query.where(RejectReason.retired.is_(False))
    return db.session.scalars(query).all()
