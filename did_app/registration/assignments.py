"""Assign end-user details (registration.md §5): eligibility, submit and resubmit.

One flow for the table's Identity cell, the readiness fix R1 and (next) the batch action, so every
read and write here is set-based over the numbers: a fixed number of statements per 900 numbers,
never one per number. A refusal is DomainError(message, field); a failing checklist raises
ChecklistFailed, which lists every failing item under its field.
"""
import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from did_app import audit, clock, parsing
from did_app.db import chunked, db, write_transaction
from did_app.errors import DomainError
from did_app.models import (
    Address,
    Identity,
    Number,
    Proof,
    ProofType,
    Requirement,
    VerificationRequest,
    VerificationRequestProof,
)
from did_app.object_checks import existing, locked
from did_app.registration import checklist as checks
from did_app.registration.identities import ADDRESS_MISSING, IDENTITY_MISSING
from did_app.registration.requirements import requirement_for
from did_app.rules import status

E164 = re.compile(r"\+[1-9][0-9]{1,14}", re.ASCII)
NOT_AWAITING = "Not awaiting registration."
IN_REVIEW = "Already in review ({ref})."
NOT_FOUND = "Not in the inventory."
ONE_KIND = "One request covers one country and number type; this selection has {k}. Filter to one first."
NOTHING_ELIGIBLE = "None of these numbers can be assigned end-user details."
NO_NUMBERS = "Choose the numbers to assign end-user details to."
ADDRESS_NOT_OF_IDENTITY = "Choose an address of {name}."
DESCRIPTION_TOO_LONG = "Service description must be at most 1,000 characters."
RESUBMIT_CLOSED = "Resubmit is possible only while its numbers still await registration."
REQUEST_MISSING = "That verification request does not exist."
STALE_REQUEST = "This request was changed by someone else. Review it and try again."
# which field of the assignment a failing checklist item is shown under
ITEM_FIELDS = {"identity": "identity_id", "identity_type": "identity_id", "proofs:personal": "identity_id",
               "proofs:business": "identity_id", "address": "address_id", "address_area": "address_id",
               "proofs:address": "address_id", "service_description": "service_description"}


class ChecklistFailed(DomainError):
    """Submit refused: the checklist does not pass. `problems` holds (field, message) of every
    failing item, which crud.failed() puts under each field."""

    def __init__(self, items: list[checks.Item]):
        failing = [i for i in items if not i.ok]
        super().__init__(failing[0].message, ITEM_FIELDS.get(failing[0].key, "identity_id"))
        self.problems = [(ITEM_FIELDS.get(i.key, "identity_id"), i.message) for i in failing]


@dataclass(frozen=True)
class Candidate:
    """A number that can be assigned: what the request and the checklist need of it."""
    id: int
    number: str
    region: str | None
    city: str | None
    old_request_id: int | None
    old_reference: str | None


@dataclass(frozen=True)
class Skip:
    number: str
    message: str


@dataclass
class Eligibility:
    """The numbers of a selection that can share one request, and those skipped with why.
    `refusal` is set when the eligible ones span more than one country and type (none may go)."""
    eligible: list[Candidate] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    country: str | None = None
    number_type: str | None = None
    refusal: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.eligible) and self.refusal is None

    @property
    def place(self) -> checks.Place:
        return checks.Place(self.country or "", frozenset(c.region for c in self.eligible),
                            frozenset(c.city for c in self.eligible))


def _today():
    # proofs expire by date; UTC as in identities' birth-date rule
    return clock.now().date()


def _unique(numbers) -> list[str]:
    return list(dict.fromkeys(parsing.clean_text(n or "").strip() for n in numbers if (n or "").strip()))


def _rows(session, numbers: list[str], *, lock: bool):
    """Each number's row with its linked request, 900 numbers a statement."""
    rows = {}
    for chunk in chunked([n for n in numbers if E164.fullmatch(n)]):
        stmt = (sa.select(Number.id, Number.number, Number.country, Number.number_type, Number.region,
                          Number.city, Number.awaiting_registration, Number.verification_request_id,
                          VerificationRequest.status, VerificationRequest.reference)
                .outerjoin(VerificationRequest, VerificationRequest.id == Number.verification_request_id)
                .where(Number.number.in_(chunk)))
        if lock:  # the numbers only: PostgreSQL can't lock the nullable side of an outer join
            stmt = stmt.with_for_update(of=Number)
        rows.update((r.number, r) for r in session.execute(stmt))
    return rows


def _eligibility(session, numbers, *, lock: bool = False) -> Eligibility:
    numbers = _unique(numbers)
    rows = _rows(session, numbers, lock=lock)
    result, kinds = Eligibility(), {}
    for number in numbers:
        r = rows.get(number)
        if r is None:  # includes text that is no E.164 number, which was never looked up
            result.skipped.append(Skip(number, NOT_FOUND))
        elif not r.awaiting_registration:
            result.skipped.append(Skip(number, NOT_AWAITING))
        elif r.status in ("pending", "approved"):
            result.skipped.append(Skip(number, IN_REVIEW.format(ref=r.reference)))
        else:
            kinds.setdefault((r.country, r.number_type), 0)
            result.eligible.append(Candidate(r.id, r.number, r.region, r.city, r.verification_request_id,
                                             r.reference))
    if len(kinds) > 1:
        result.refusal = ONE_KIND.format(k=len(kinds))
    elif kinds:
        result.country, result.number_type = next(iter(kinds))
    return result


def eligibility(numbers: list[str]) -> Eligibility:
    """Which of `numbers` (E.164) can be assigned end-user details together (§5 step 1): awaiting
    registration with no pending request; the others are skipped with "Not awaiting
    registration." or "Already in review ({VR ref})."; the rest must share one country and type,
    else `refusal` says "One request covers one country and number type; this selection has {k}.
    Filter to one first." A read: it writes nothing."""
    return _eligibility(db.session, numbers)


def requirement_of(elig: Eligibility) -> Requirement | None:
    return requirement_for(elig.country, elig.number_type) if elig.ok else None


def current_checklist(session, req: Requirement, identity, address, place: checks.Place,
                      service_description: str | None) -> list[checks.Item]:
    """The checklist as it stands, with an address of another identity counted as none."""
    if address is not None and (identity is None or address.identity_id != identity.id):
        address = None
    return checks.checklist(session, req, identity, address, place, service_description, _today())


def _description(text: str | None) -> str | None:
    text = (text or "").strip() or None
    if text is not None and len(text) > 1000:
        raise DomainError(DESCRIPTION_TOO_LONG, "service_description")
    return text


def _picked(session, identity_id, address_id) -> tuple[Identity, Address]:
    identity = existing(session, Identity, identity_id, IDENTITY_MISSING) if identity_id else None
    if identity is None:
        raise DomainError("Choose an identity.", "identity_id")
    address = session.get(Address, address_id) if address_id else None
    if address is None:
        raise DomainError(ADDRESS_MISSING if address_id else "Choose an address.", "address_id")
    if address.identity_id != identity.id:
        raise DomainError(ADDRESS_NOT_OF_IDENTITY.format(name=identity.display_name), "address_id")
    return identity, address


def _passing(session, req, identity, address, place, description) -> None:
    items = checks.checklist(session, req, identity, address, place, description, _today())
    if not checks.passes(items):
        raise ChecklistFailed(items)


def _link_proofs(session, request_id: int, identity: Identity, address: Address) -> None:
    """Record the proofs the request goes with: the unexpired ones of its identity (of its kind)
    and of its address. Replaces earlier links (a resubmit goes with the proofs of now)."""
    session.execute(sa.delete(VerificationRequestProof).where(VerificationRequestProof.request_id == request_id))
    today = _today()
    valid = sa.or_(Proof.expires_on.is_(None), Proof.expires_on >= today)
    ids = session.scalars(sa.select(Proof.id).join(ProofType, ProofType.id == Proof.proof_type_id).where(valid, sa.or_(
        sa.and_(Proof.identity_id == identity.id, ProofType.entity == identity.identity_type),
        sa.and_(Proof.address_id == address.id, ProofType.entity == "address")))).all()
    if ids:
        session.execute(sa.insert(VerificationRequestProof), [dict(request_id=request_id, proof_id=i) for i in ids])


def _request_values(vr: VerificationRequest, identity: Identity, address: Address) -> dict:
    return {"status": vr.status, "identity": identity.display_name, "address": address.one_line,
            "service_description": vr.service_description, "submission_count": vr.submission_count}


def _relink(session, actor, candidates: list[Candidate], vr: VerificationRequest, identity: Identity,
            batch_id: int | None = None) -> None:
    """Point the numbers at the identity and the request (set-based), with their history rows."""
    now = clock.now()
    for chunk in chunked([c.id for c in candidates]):
        session.execute(sa.update(Number).where(Number.id.in_(chunk)).values(
            identity_id=identity.id, verification_request_id=vr.id, version=Number.version + 1,
            updated_at=now, updated_by=actor.user_id).execution_options(synchronize_session=False))
        status.recompute(Number.id.in_(chunk))  # no longer "missing or rejected": attention moves
    audit.record_many(actor, [dict(
        action="number.details_assigned", object_type="number", object_id=c.id, object_label=c.number,
        before={"verification": c.old_reference} if c.old_reference else None,
        after={"identity": identity.display_name, "verification": vr.reference},
        note=f"Submitted for review as {vr.reference}") for c in candidates], batch_id=batch_id)


def _note_lost_numbers(actor, candidates: list[Candidate], batch_id: int | None = None) -> None:
    """A rejected request that loses numbers to a new assignment says so in its own history."""
    lost: dict[tuple[int, str], list[str]] = {}
    for c in candidates:
        if c.old_request_id is not None:
            lost.setdefault((c.old_request_id, c.old_reference), []).append(c.number)
    audit.record_many(actor, [dict(
        action="verification.numbers_removed", object_type="verification_request", object_id=rid,
        object_label=ref or str(rid), before={"numbers": numbers[:100], "count": len(numbers)},
        note="Assigned to a new request") for (rid, ref), numbers in lost.items()], batch_id=batch_id)


def checked_inputs(session, identity_id: int | None, address_id: int | None,
                   service_description: str | None) -> tuple[Identity, Address, str | None]:
    """The chosen identity, its address and the cleaned description, or DomainError(field) with
    submit's message (the batch action checks its inputs with this before its preview)."""
    description = _description(service_description)
    identity, address = _picked(session, identity_id, address_id)
    return identity, address, description


def submit(actor, numbers: list[str], *, identity_id: int | None, address_id: int | None,
           service_description: str | None = None) -> tuple[VerificationRequest, list[str]]:
    """Assign end-user details (§5 step 6): ONE pending request `VR-000123` for every eligible
    number, linked to the proofs it goes with; each number gets the identity and the request (a
    previous rejected request loses it), a new version and a `number.details_assigned` row.

    Re-checks eligibility and the requirement's checklist. Raises DomainError when no number is
    eligible, when they span several countries or types, or when the address is not the
    identity's; ChecklistFailed when an item fails. Returns the request and its numbers."""
    _description(service_description)  # an over-long text is refused before the transaction
    with write_transaction() as session:
        return submit_in(session, actor, numbers, identity_id=identity_id, address_id=address_id,
                         service_description=service_description)


def submit_in(session, actor, numbers: list[str], *, identity_id: int | None, address_id: int | None,
              service_description: str | None = None, batch_id: int | None = None
              ) -> tuple[VerificationRequest, list[str]]:
    """submit() in the caller's transaction (a batch's apply), its history rows carrying `batch_id`."""
    description = _description(service_description)
    elig = _eligibility(session, numbers, lock=True)
    if elig.refusal:
        raise DomainError(elig.refusal)
    if not elig.eligible:
        raise DomainError(NOTHING_ELIGIBLE if numbers else NO_NUMBERS)
    identity, address = _picked(session, identity_id, address_id)
    _passing(session, requirement_for(elig.country, elig.number_type), identity, address, elig.place,
             description)
    vr = VerificationRequest(identity_id=identity.id, address_id=address.id, country=elig.country,
                             number_type=elig.number_type, status="pending", service_description=description,
                             submitted_at=clock.now(), submitted_by=actor.user_id, submission_count=1)
    session.add(vr)
    session.flush()
    vr.reference = f"VR-{vr.id:06d}"
    _link_proofs(session, vr.id, identity, address)
    _note_lost_numbers(actor, elig.eligible, batch_id)
    _relink(session, actor, elig.eligible, vr, identity, batch_id)
    audit.record(actor, "verification.submitted", "verification_request", vr.id, vr.reference,
                 after={**_request_values(vr, identity, address), "numbers": len(elig.eligible)},
                 batch_id=batch_id)
    return vr, [c.number for c in elig.eligible]


# ---- resubmit -------------------------------------------------------------------------------

def awaiting_numbers(session, request_id: int) -> list[Candidate]:
    """The request's numbers that still await registration, by number."""
    rows = session.execute(sa.select(Number.id, Number.number, Number.region, Number.city).where(
        Number.verification_request_id == request_id, Number.awaiting_registration.is_(True))
        .order_by(Number.number)).all()
    return [Candidate(r.id, r.number, r.region, r.city, request_id, None) for r in rows]


def place_of(country: str, candidates: list[Candidate]) -> checks.Place:
    return checks.Place(country, frozenset(c.region for c in candidates), frozenset(c.city for c in candidates))


def resubmit_refusal(vr: VerificationRequest, awaiting: list[Candidate]) -> str | None:
    """Why the request can't be resubmitted now, or None (§5 "Resubmit")."""
    if vr.status != "rejected":
        return "Only a rejected request can be resubmitted."
    if not awaiting:
        return RESUBMIT_CLOSED
    return None


def _unlink_settled(session, actor, vr: VerificationRequest) -> int:
    """Numbers of the request that no longer await registration leave it, with history."""
    rows = session.execute(sa.select(Number.id, Number.number).where(
        Number.verification_request_id == vr.id, Number.awaiting_registration.is_(False))).all()
    now = clock.now()
    for chunk in chunked([r.id for r in rows]):
        session.execute(sa.update(Number).where(Number.id.in_(chunk)).values(
            verification_request_id=None, version=Number.version + 1, updated_at=now, updated_by=actor.user_id)
            .execution_options(synchronize_session=False))
    audit.record_many(actor, [dict(
        action="number.updated", object_type="number", object_id=r.id, object_label=r.number,
        before={"verification": vr.reference}, after={"verification": None},
        note=f"Left {vr.reference} on resubmit: no longer awaiting registration") for r in rows])
    return len(rows)


def resubmit(actor, request_id: int, *, address_id: int | None, service_description: str | None,
             version: int | None) -> tuple[VerificationRequest, list[str]]:
    """Resubmit a rejected request (§5 "Resubmit"): possibly with another address of the same
    identity; the checklist runs again. Keeps the reference; status back to pending; submission
    count + 1; the rejection (reasons, comment, decision) goes into the request's history row;
    numbers no longer awaiting are unlinked; the proofs are linked anew.

    Raises DomainError "Resubmit is possible only while its numbers still await registration."
    (or when it is not rejected), ChecklistFailed, and Conflict on a stale `version`."""
    description = _description(service_description)
    with write_transaction() as session:
        vr = locked(session, VerificationRequest, request_id, version, missing=REQUEST_MISSING, stale=STALE_REQUEST)
        awaiting = awaiting_numbers(session, vr.id)
        refusal = resubmit_refusal(vr, awaiting)
        if refusal:
            raise DomainError(refusal)
        identity, address = _picked(session, vr.identity_id, address_id)
        _passing(session, requirement_for(vr.country, vr.number_type), identity, address,
                 place_of(vr.country, awaiting), description)
        old_address = session.get(Address, vr.address_id)
        before = {**_request_values(vr, identity, old_address), "reject_reasons": list(vr.reject_reasons or []),
                  "reject_comment": vr.reject_comment,
                  "decided_at": vr.decided_at.isoformat() if vr.decided_at else None}
        unlinked = _unlink_settled(session, actor, vr)
        vr.address_id, vr.service_description, vr.status = address.id, description, "pending"
        vr.submission_count += 1
        vr.submitted_at, vr.submitted_by = clock.now(), actor.user_id
        vr.reject_reasons, vr.reject_comment, vr.decided_at, vr.decided_by = [], None, None, None
        _link_proofs(session, vr.id, identity, address)
        status.recompute(Number.verification_request_id == vr.id)  # rejected → in review
        audit.record_many(actor, [dict(
            action="number.details_resubmitted", object_type="number", object_id=c.id, object_label=c.number,
            after={"verification": vr.reference}, note=f"Resubmitted for review as {vr.reference}")
            for c in awaiting])
        audit.record(actor, "verification.resubmitted", "verification_request", vr.id, vr.reference,
                     before=before, after={**_request_values(vr, identity, address), "numbers": len(awaiting),
                                           "unlinked": unlinked})
    return vr, [c.number for c in awaiting]
