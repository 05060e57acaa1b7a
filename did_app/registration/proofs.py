"""Proofs and proof types: the writes (registration.md §4 and the Proof row of §7).

One transaction per use case; every write is audited on the identity or address it belongs to
(its History shows it). Files go to disk through proof_store inside the transaction, so a refusal
or a failure leaves no file and no row; a deleted proof's files go only after the commit.
"""
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath, PureWindowsPath

import sqlalchemy as sa

from did_app import audit, clock, parsing
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.models import Address, Identity, Proof, ProofFile, ProofType, VerificationRequest, VerificationRequestProof
from did_app.object_checks import InUse, clean_name, existing
from did_app.registration import proof_store
from did_app.registration.identities import ADDRESS_MISSING, IDENTITY_MISSING, pending_reference

ENTITIES = ("identity", "address")
PROOF_KINDS = {"personal": "personal identity", "business": "business identity", "address": "address"}
ENTITY_LABELS = {"personal": "Personal identity", "business": "Business identity", "address": "Address"}
TYPE_MISSING = "Choose a proof type."
TYPE_RETIRED = "That proof type is retired; choose another."
EXPIRED_MESSAGE = "The expiry date must not be in the past."
PROOF_MISSING = "That proof does not exist."
ENTITY_MESSAGE = "Choose an identity or an address."


@dataclass(frozen=True)
class Upload:
    """One file as the browser sent it: its name (kept in the database only) and its bytes."""
    name: str
    data: bytes


@dataclass(frozen=True)
class Checked:
    name: str
    data: bytes
    ext: str
    content_type: str


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def type_message(type_name: str, type_entity: str, entity_kind: str) -> str:
    """"A {type} proves a {kind}; choose a {entity kind} type." (§4); "an address" where English wants it
    (the type's name keeps the spec's "A": a vowel letter does not tell, as in "A Utility bill")."""
    return f"A {type_name} proves {_a(PROOF_KINDS[type_entity])}; choose {_a(entity_kind)} type."


def original_name(raw: str | None) -> str:
    """The file's own name without any folder a client put in front, control characters or excess length."""
    text = parsing.clean_text(raw or "").strip()
    text = PureWindowsPath(PurePosixPath(text).name).name.strip()
    return (text or "file")[-255:]


# ---- the rules of §4 (pure) ------------------------------------------------------------------

def check_files(files: list) -> list[Checked]:
    """1–5 files, each ≤ 10 MB, together ≤ 25 MB, each a PDF, PNG or JPEG by its first bytes.
    `files` holds Upload or (name, bytes) pairs. Raises DomainError on "files"."""
    uploads = [f if isinstance(f, Upload) else Upload(*f) for f in files]
    if not 1 <= len(uploads) <= proof_store.MAX_FILES:
        raise DomainError(proof_store.COUNT_MESSAGE, "files")
    if any(len(u.data) > proof_store.MAX_FILE_BYTES for u in uploads):
        raise DomainError(proof_store.SIZE_MESSAGE, "files")
    if sum(len(u.data) for u in uploads) > proof_store.MAX_PROOF_BYTES:
        raise DomainError(proof_store.TOTAL_MESSAGE, "files")
    checked = []
    for u in uploads:
        sniffed = proof_store.sniff(u.data[:16])
        if sniffed is None:
            raise DomainError(proof_store.TYPE_MESSAGE, "files")
        checked.append(Checked(original_name(u.name), u.data, *sniffed))
    return checked


def check_expiry(expires_on: date | None) -> date | None:
    if expires_on is not None and expires_on < clock.now().date():
        raise DomainError(EXPIRED_MESSAGE, "expires_on")
    return expires_on


# ---- helpers (inside the caller's transaction) ---------------------------------------------

@dataclass(frozen=True)
class Owner:
    """The identity or address a proof belongs to, as its page and History name it."""
    entity: str      # identity | address
    id: int
    kind: str        # personal | business | address: the proof types it takes
    label: str

    @property
    def link(self) -> dict:
        return {"identity_id": self.id} if self.entity == "identity" else {"address_id": self.id}


def _owner(session, entity: str, entity_id) -> Owner:
    if entity == "identity":
        identity = existing(session, Identity, entity_id, IDENTITY_MISSING)
        return Owner("identity", identity.id, identity.identity_type, identity.display_name)
    if entity == "address":
        address = existing(session, Address, entity_id, ADDRESS_MISSING)
        return Owner("address", address.id, "address", address.one_line)
    raise DomainError(ENTITY_MESSAGE)


def _owner_of(session, proof: Proof) -> Owner:
    return (_owner(session, "identity", proof.identity_id) if proof.identity_id is not None
            else _owner(session, "address", proof.address_id))


def _unlocked(session, owner: Owner) -> None:
    """Proofs do not change while their identity or address is in review (§3)."""
    reference = pending_reference(session, **owner.link)
    if reference is not None:
        raise DomainError(f"In review ({reference}). Wait for the decision or for a rejection to edit.")


def _proof_type(session, proof_type_id, owner: Owner) -> ProofType:
    proof_type = session.get(ProofType, proof_type_id) if isinstance(proof_type_id, int) else None
    if proof_type is None:
        raise DomainError(TYPE_MISSING, "proof_type_id")
    if proof_type.entity != owner.kind:
        raise DomainError(type_message(proof_type.name, proof_type.entity, owner.kind), "proof_type_id")
    if proof_type.retired:
        raise DomainError(TYPE_RETIRED, "proof_type_id")
    return proof_type


def _referenced(session, proof_ids: list[int]) -> set[int]:
    """The proofs some request was submitted with."""
    if not proof_ids:
        return set()
    return set(session.scalars(sa.select(VerificationRequestProof.proof_id).distinct()
                               .where(VerificationRequestProof.proof_id.in_(proof_ids))))


def _drop(session, proof: Proof) -> None:
    """Delete the row now and its files once the transaction commits."""
    proof_store.delete_after_commit(session, [f.path for f in proof.files])
    session.delete(proof)


def _values(proof: Proof, type_name: str) -> dict:
    return {"type": type_name, "expires_on": proof.expires_on.isoformat() if proof.expires_on else None,
            "files": [f.original_name for f in proof.files]}


def _record(actor, owner: Owner, verb: str, **kw) -> None:
    audit.record(actor, f"{owner.entity}.{verb}", owner.entity, owner.id, owner.label, **kw)


# ---- the use cases ---------------------------------------------------------------------------

def add_proof(actor, entity: str, entity_id: int, proof_type_id: int | None, expires_on: date | None,
              files: list) -> Proof:
    """A proof of the identity or address with its 1–5 files (admins and operators).

    A proof of a type the entity holds already replaces the older one: that one is kept while a
    request references it, and deleted otherwise (§4). Raises DomainError on a file rule ("files"),
    the type ("proof_type_id"), the expiry ("expires_on"), the review lock or a missing entity.
    """
    checked = check_files(files)
    expires_on = check_expiry(expires_on)
    with write_transaction() as session:
        owner = _owner(session, entity, entity_id)
        proof_type = _proof_type(session, proof_type_id, owner)
        _unlocked(session, owner)
        older = session.scalars(sa.select(Proof).where(
            Proof.proof_type_id == proof_type.id,
            *(getattr(Proof, k) == v for k, v in owner.link.items())).order_by(Proof.id)).all()
        proof = Proof(proof_type_id=proof_type.id, expires_on=expires_on, uploaded_at=clock.now(),
                      uploaded_by=actor.user_id, **owner.link)
        proof.files = [ProofFile(path=proof_store.write(session, c.data, c.ext), original_name=c.name,
                                 content_type=c.content_type, size_bytes=len(c.data)) for c in checked]
        session.add(proof)
        kept = _referenced(session, [p.id for p in older])
        for old in older:
            if old.id not in kept:
                _drop(session, old)
        session.flush()
        note = _replacement_note(proof_type.name, len(older) - len(kept), len(kept))
        _record(actor, owner, "proof_added", after=_values(proof, proof_type.name), note=note)
    return proof


def _replacement_note(type_name: str, deleted: int, kept: int) -> str | None:
    parts = []
    if deleted:
        parts.append(f"replaces the earlier {type_name} (deleted)")
    if kept:
        parts.append(f"the earlier {type_name} is kept: a verification request references it")
    return _first_up("; ".join(parts)) + "." if parts else None


def backing_reference(session, proof_id: int) -> str | None:
    """The reference of a pending or approved request this proof backs, or None."""
    return session.scalar(sa.select(VerificationRequest.reference).join(
        VerificationRequestProof, VerificationRequestProof.request_id == VerificationRequest.id).where(
        VerificationRequestProof.proof_id == proof_id,
        VerificationRequest.status.in_(("pending", "approved"))).order_by(VerificationRequest.id).limit(1))


def delete_proof(actor, proof_id: int) -> Owner:
    """Delete a proof; its files go from disk after the commit. Returns its identity or address.

    Raises InUse while it backs a pending or approved request: "This proof backs verification
    {VR ref}." (§7); DomainError under the review lock. A rejected request that was submitted with
    it loses the link (resubmitting links the proofs on file then).
    """
    with write_transaction() as session:
        proof = existing(session, Proof, proof_id, PROOF_MISSING)
        reference = backing_reference(session, proof.id)
        if reference is not None:
            raise InUse(f"This proof backs verification {reference}.")
        owner = _owner_of(session, proof)
        _unlocked(session, owner)
        session.execute(sa.delete(VerificationRequestProof).where(VerificationRequestProof.proof_id == proof.id))
        _record(actor, owner, "proof_deleted", before=_values(proof, proof.proof_type.name))
        _drop(session, proof)
    return owner


def update_expiry(actor, proof_id: int, expires_on: date | None) -> Owner:
    """Change (or clear) a proof's expiry date; refused under the review lock."""
    expires_on = check_expiry(expires_on)
    with write_transaction() as session:
        proof = existing(session, Proof, proof_id, PROOF_MISSING)
        owner = _owner_of(session, proof)
        _unlocked(session, owner)
        before = _values(proof, proof.proof_type.name)
        proof.expires_on = expires_on
        b, a = audit.diff(before, _values(proof, proof.proof_type.name))
        if a:
            _record(actor, owner, "proof_updated", before={"type": before["type"], **b}, after=a)
    return owner


# ---- proof types (admins) --------------------------------------------------------------------

TYPE_GONE = "That proof type does not exist."


def _type_values(proof_type: ProofType) -> dict:
    return {"entity": proof_type.entity, "name": proof_type.name, "retired": proof_type.retired}


def _name_free(session, entity: str, name: str, own_id: int | None = None) -> None:
    cond = [ProofType.entity == entity,
            sa.or_(ProofType.name == name, sa.func.lower(ProofType.name) == name.lower())]
    if own_id is not None:
        cond.append(ProofType.id != own_id)
    if session.scalar(sa.select(sa.exists().where(*cond))):
        raise DomainError(f"{ENTITY_LABELS[entity]} proofs have a type named {name} already.", "name")


def create_proof_type(actor, entity: str, name: str | None) -> ProofType:
    """A new proof type for personal or business identities or for addresses (admin)."""
    if entity not in PROOF_KINDS:
        raise DomainError("Choose personal, business or address.", "entity")
    name = clean_name(name)
    with write_transaction() as session:
        _name_free(session, entity, name)
        proof_type = ProofType(entity=entity, name=name, retired=False)
        session.add(proof_type)
        session.flush()
        audit.record(actor, "proof_type.created", "proof_type", proof_type.id, name, after=_type_values(proof_type))
    return proof_type


def rename_proof_type(actor, type_id: int, name: str | None) -> ProofType:
    """Rename a type (admin); proofs of it keep it, under the new name."""
    name = clean_name(name)
    with write_transaction() as session:
        proof_type = existing(session, ProofType, type_id, TYPE_GONE)
        _name_free(session, proof_type.entity, name, proof_type.id)
        if name != proof_type.name:
            before = proof_type.name
            proof_type.name = name
            audit.record(actor, "proof_type.renamed", "proof_type", proof_type.id, name,
                         before={"name": before}, after={"name": name})
    return proof_type


def set_proof_type_retired(actor, type_id: int, retired: bool) -> ProofType:
    """Retire a type (no new proofs of it; proofs on file keep counting) or bring it back (admin)."""
    with write_transaction() as session:
        proof_type = existing(session, ProofType, type_id, TYPE_GONE)
        if proof_type.retired != retired:
            proof_type.retired = retired
            audit.record(actor, "proof_type.retired" if retired else "proof_type.unretired", "proof_type",
                         proof_type.id, proof_type.name, before={"retired": not retired}, after={"retired": retired})
    return proof_type
