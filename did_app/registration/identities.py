"""Identities and addresses: the writes (registration.md §3 and §7).

One transaction per use case; every write is audited; a refusal is DomainError(message, field).
The field rules are pure (`clean_identity`, `clean_address`) so the views can show them all.
"""
import re
from datetime import date

import sqlalchemy as sa

from did_app import audit, clock, phone
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.models import Address, Identity, Number, NumberService, Proof, VerificationRequest
from did_app.object_checks import InUse, check_version, existing
from did_app.reference_lists import COUNTRY_CODES
from did_app.registration import proof_store

IDENTITY_KINDS = {"personal": "Personal", "business": "Business"}
BUSINESS_ONLY = ("company_reg_number", "vat_id")
PERSONAL_ONLY = ("birth_date", "birth_country", "id_number", "personal_tax_id")
IDENTITY_FIELDS = ("first_name", "last_name", "phone_number", "country", "company_name", "company_reg_number",
                   "vat_id", "birth_date", "birth_country", "id_number", "personal_tax_id", "contact_email",
                   "description", "external_reference")
ADDRESS_FIELDS = ("street", "city", "postal_code", "region", "country", "description")
FIELD_LABELS = {"first_name": "First name", "last_name": "Last name", "company_name": "Company name",
                "company_reg_number": "Company registration number", "vat_id": "VAT ID",
                "birth_country": "Birth country", "id_number": "ID number", "personal_tax_id": "Personal tax ID",
                "description": "Description", "external_reference": "External reference",
                "street": "Street", "city": "City", "postal_code": "Postal code", "region": "Region"}
COMPANY_REFUSED = "Only business identities have a company name."
COUNTRY_MESSAGE = "Choose a country."
PHONE_MESSAGE = "Enter a valid phone number, e.g. +49 30 1234567."
EMAIL_MESSAGE = "Enter a valid email address."
EMAIL_RE = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
IDENTITY_MISSING = "That identity does not exist."
ADDRESS_MISSING = "That address does not exist."


def _plural(count: int, one: str) -> str:
    return f"{count} {one}" if count == 1 else f"{count} {one}s"


# ---- the rules of §3 (pure) ------------------------------------------------------------------

def _text(values: dict, key: str, limit: int, *, required: bool = False) -> str | None:
    """The trimmed text or None; raises DomainError on `key` when missing or too long."""
    text = (values.get(key) or "").strip() or None
    label = FIELD_LABELS.get(key, key)
    if text is None and required:
        raise DomainError(f"Enter the {label.lower()}.", key)
    if text is not None and len(text) > limit:
        raise DomainError(f"{label} must be at most {limit:,} characters.", key)
    return text


def _country(values: dict, key: str = "country") -> str:
    code = (values.get(key) or "").strip().upper()
    if code not in COUNTRY_CODES:
        raise DomainError(COUNTRY_MESSAGE, key)
    return code


def _phone(text: str | None, country: str | None) -> str:
    """Any format a person types, stored as E.164 (a national number read in the identity's country)."""
    parsed = phone.parse((text or "").strip(), country or None) if (text or "").strip() else None
    if parsed is None:
        raise DomainError(PHONE_MESSAGE, "phone_number")
    return phone.e164(parsed)


def _birth_date(value) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, date) or value >= clock.now().date():
        raise DomainError("The birth date must be in the past.", "birth_date")
    return value


def _kind_only(values: dict, kind: str) -> None:
    """Refuse the fields of the other kind (§3): a company name on a personal identity, birth data
    on a business one."""
    filled = lambda key: values.get(key) not in (None, "") and str(values.get(key)).strip() != ""  # noqa: E731
    if kind == "personal":
        if filled("company_name"):
            raise DomainError(COMPANY_REFUSED, "company_name")
        for key in BUSINESS_ONLY:
            if filled(key):
                raise DomainError(f"Only business identities have a {FIELD_LABELS[key]}.", key)
    else:
        for key in PERSONAL_ONLY:
            if filled(key):
                label = "birth date" if key == "birth_date" else FIELD_LABELS[key]
                raise DomainError(f"Only personal identities have a {label}.", key)


def clean_identity(kind: str, values: dict) -> dict:
    """Every field of an identity of `kind` checked and shaped for the row, in the form's order;
    raises DomainError on the first field it refuses."""
    if kind not in IDENTITY_KINDS:
        raise DomainError("Choose personal or business.", "identity_type")
    out = {"first_name": _text(values, "first_name", 100, required=True),
           "last_name": _text(values, "last_name", 100, required=True)}
    country = _country(values)
    out["phone_number"] = _phone(values.get("phone_number"), country)
    out["country"] = country
    _kind_only(values, kind)
    business = kind == "business"
    out["company_name"] = _text(values, "company_name", 255, required=True) if business else None
    for key in BUSINESS_ONLY:
        out[key] = _text(values, key, 50) if business else None
    out["birth_date"] = None if business else _birth_date(values.get("birth_date"))
    for key in PERSONAL_ONLY[1:]:
        out[key] = None if business else _text(values, key, 50)
    email = (values.get("contact_email") or "").strip() or None
    if email is not None and (len(email) > 254 or not EMAIL_RE.fullmatch(email)):
        raise DomainError(EMAIL_MESSAGE, "contact_email")
    out["contact_email"] = email
    out["description"] = _text(values, "description", 255)
    out["external_reference"] = _text(values, "external_reference", 100)
    return out


def clean_address(values: dict) -> dict:
    """Every field of an address checked and shaped for the row; raises DomainError on the field."""
    return {"street": _text(values, "street", 200, required=True),
            "city": _text(values, "city", 100, required=True),
            "postal_code": _text(values, "postal_code", 20, required=True),
            "region": _text(values, "region", 100),
            "country": _country(values),
            "description": _text(values, "description", 255)}


# ---- helpers (inside the caller's transaction) ---------------------------------------------

def pending_reference(session, *, identity_id: int | None = None, address_id: int | None = None) -> str | None:
    """The reference of a pending request the identity or address is linked to, or None."""
    column, value = ((VerificationRequest.identity_id, identity_id) if identity_id is not None
                     else (VerificationRequest.address_id, address_id))
    return session.scalar(sa.select(VerificationRequest.reference).where(
        column == value, VerificationRequest.status == "pending").order_by(VerificationRequest.id).limit(1))


def _unlocked(session, **link) -> None:
    """Refuse edits while in review (§3)."""
    reference = pending_reference(session, **link)
    if reference is not None:
        raise DomainError(f"In review ({reference}). Wait for the decision or for a rejection to edit.")


def _identity_values(identity: Identity) -> dict:
    values = {"identity_type": identity.identity_type, **{k: getattr(identity, k) for k in IDENTITY_FIELDS}}
    values["birth_date"] = identity.birth_date.isoformat() if identity.birth_date else None
    return values


def _address_values(address: Address) -> dict:
    return {"identity_id": address.identity_id, **{k: getattr(address, k) for k in ADDRESS_FIELDS}}


def _count(session, column, value) -> int:
    return session.scalar(sa.select(sa.func.count()).where(column == value))


# ---- the use cases ---------------------------------------------------------------------------

def create_identity(actor, *, identity_type: str, **values) -> Identity:
    """A personal or business identity (admins and operators). Raises DomainError on a field rule."""
    fields = clean_identity(identity_type, values)
    with write_transaction() as session:
        identity = Identity(identity_type=identity_type, **fields)
        session.add(identity)
        session.flush()
        audit.record(actor, "identity.created", "identity", identity.id, identity.display_name,
                     after=_identity_values(identity))
    return identity


def update_identity(actor, identity_id: int, *, version: int | None, **values) -> Identity:
    """Edit an identity's fields; its type stays as created. Refused while it is linked to a
    pending request (§3); after approval edits are allowed and logged, and the approval stands.
    Raises DomainError on a field rule or the review lock, Conflict on a stale `version`."""
    values.pop("identity_type", None)  # fixed after create
    with write_transaction() as session:
        identity = existing(session, Identity, identity_id, IDENTITY_MISSING)
        check_version(identity, version)
        _unlocked(session, identity_id=identity.id)
        fields = clean_identity(identity.identity_type, values)
        before = _identity_values(identity)
        for key, value in fields.items():
            setattr(identity, key, value)
        b, a = audit.diff(before, _identity_values(identity))
        if a:
            identity.updated_at = clock.now()
            audit.record(actor, "identity.updated", "identity", identity.id, identity.display_name, before=b, after=a)
    return identity


def delete_identity(actor, identity_id: int) -> None:
    """Delete an unused identity with its addresses and proofs (§7).

    Raises InUse while numbers, requests or services use it: "Identity {name} is used by {n}
    numbers and {r} verification requests."
    """
    with write_transaction() as session:
        identity = existing(session, Identity, identity_id, IDENTITY_MISSING)
        numbers = _count(session, Number.identity_id, identity.id)
        requests = _count(session, VerificationRequest.identity_id, identity.id)
        services = _count(session, NumberService.identity_id, identity.id)
        if numbers or requests:
            raise InUse(f"Identity {identity.display_name} is used by {_plural(numbers, 'number')} and "
                        f"{_plural(requests, 'verification request')}.",
                        {"identity": str(identity.id)} if numbers else None)
        if services:
            raise InUse(f"Identity {identity.display_name} is used by {_plural(services, 'service')}.")
        addresses = session.scalars(sa.select(Address).where(Address.identity_id == identity.id)).all()
        for address in addresses:
            _address_unused(session, address)
        for address in addresses:
            _delete_address_rows(session, address)
        for proof in session.scalars(sa.select(Proof).where(Proof.identity_id == identity.id)):
            _delete_proof(session, proof)
        session.flush()  # proofs and addresses first: no relationship orders them before the identity
        audit.record(actor, "identity.deleted", "identity", identity.id, identity.display_name,
                     before=_identity_values(identity))
        session.delete(identity)


def create_address(actor, identity_id: int, **values) -> Address:
    """An address of the identity (which it keeps). Refused while the identity is in review.
    Raises DomainError on a field rule."""
    fields = clean_address(values)
    with write_transaction() as session:
        identity = existing(session, Identity, identity_id, IDENTITY_MISSING)
        _unlocked(session, identity_id=identity.id)
        address = Address(identity_id=identity.id, **fields)
        session.add(address)
        session.flush()
        audit.record(actor, "address.created", "address", address.id, address.one_line,
                     after=_address_values(address))
        audit.record(actor, "identity.address_added", "identity", identity.id, identity.display_name,
                     after={"address": address.one_line})
    return address


def update_address(actor, address_id: int, *, version: int | None, **values) -> Address:
    """Edit an address; its identity stays. Refused while it is linked to a pending request.
    Raises DomainError on a field rule or the review lock, Conflict on a stale `version`."""
    values.pop("identity_id", None)  # fixed after create
    with write_transaction() as session:
        address = existing(session, Address, address_id, ADDRESS_MISSING)
        check_version(address, version)
        _unlocked(session, address_id=address.id)
        fields = clean_address(values)
        before = _address_values(address)
        for key, value in fields.items():
            setattr(address, key, value)
        b, a = audit.diff(before, _address_values(address))
        if a:
            address.updated_at = clock.now()
            audit.record(actor, "address.updated", "address", address.id, address.one_line, before=b, after=a)
    return address


def _address_unused(session, address: Address) -> None:
    """Raises InUse while a request or a service uses the address (§7)."""
    reference = session.scalar(sa.select(VerificationRequest.reference).where(
        VerificationRequest.address_id == address.id).order_by(VerificationRequest.id).limit(1))
    if reference is not None:
        raise InUse(f"This address is used by verification {reference}.")
    if _count(session, NumberService.address_id, address.id):
        raise InUse("This address is used by a service request.")


def _delete_address_rows(session, address: Address) -> None:
    for proof in session.scalars(sa.select(Proof).where(Proof.address_id == address.id)):
        _delete_proof(session, proof)
    session.flush()  # the proofs first: no relationship orders them before the address
    session.delete(address)


def _delete_proof(session, proof: Proof) -> None:
    """The row now, its files once the transaction commits (§7)."""
    proof_store.delete_after_commit(session, [f.path for f in proof.files])
    session.delete(proof)


def delete_address(actor, address_id: int) -> int:
    """Delete an unused address with its proofs; returns its identity's id.
    Raises InUse: "This address is used by verification {VR ref}."."""
    with write_transaction() as session:
        address = existing(session, Address, address_id, ADDRESS_MISSING)
        _address_unused(session, address)
        identity_id = address.identity_id
        audit.record(actor, "address.deleted", "address", address.id, address.one_line,
                     before=_address_values(address))
        audit.record(actor, "identity.address_removed", "identity", identity_id, address.one_line,
                     before={"address": address.one_line})
        _delete_address_rows(session, address)
    return identity_id
