"""Registration requirements: the admin's writes (registration.md §2).

One transaction per use case; every write is audited. The lookup itself (`requirement_for`) and
the intake's defaults live in requirements.py, which the areas above import.
"""
import sqlalchemy as sa

from did_app import audit
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.models import ProofType, Requirement
from did_app.models.numbers import NUMBER_TYPES
from did_app.object_checks import InUse, check_version, existing
from did_app.reference_lists import COUNTRY_CODES

ANY = "*"
IDENTITY_TYPES = {"any": "Any", "personal": "Personal", "business": "Business"}
ADDRESS_AREAS = {"world_wide": "Anywhere", "country": "In the number's country",
                 "region": "In the number's country and region", "city": "In the number's country and city"}
PERSONAL_FIELDS = {"birth_date": "Birth date", "birth_country": "Birth country", "id_number": "ID number",
                   "personal_tax_id": "Personal tax ID", "contact_email": "Contact email"}
BUSINESS_FIELDS = {"company_reg_number": "Company registration number", "vat_id": "VAT ID",
                   "contact_email": "Contact email"}
PROOF_ENTITIES = ("personal", "business", "address")
MAX_PROOFS = 5
MAX_RESTRICTION = 1000
PROOFS_MESSAGE = "Enter 0–5 proofs."
COUNTRY_MESSAGE = "Enter an ISO country code such as DE, or * for any country."
TYPE_MESSAGE = "Choose a number type, or * for any type."
RESTRICTION_MESSAGE = "Restriction message must be at most 1,000 characters."
FALLBACK_REFUSAL = "The (*, *) requirement is the fallback for every number: it can be edited but not deleted."


def label(country: str, number_type: str) -> str:
    """How pages and history name a row: "(DE, local)", "(*, *)"."""
    return f"({country}, {number_type})"


# ---- the rules of §2 (pure) ------------------------------------------------------------------

def clean_pair(country: str | None, number_type: str | None) -> tuple[str, str]:
    """(ISO code or *, type code or *); raises DomainError on the field it refuses."""
    country = (country or "").strip().upper()
    if country != ANY and country not in COUNTRY_CODES:
        raise DomainError(COUNTRY_MESSAGE, "country")
    number_type = (number_type or "").strip()
    if number_type != ANY and number_type not in NUMBER_TYPES:
        raise DomainError(TYPE_MESSAGE, "number_type")
    return country, number_type


def clean_rules(values: dict) -> dict:
    """The editable fields of a requirement checked and shaped for the row; raises DomainError
    with the field. `accepted_proof_types` is checked against the database by the writes."""
    if values.get("identity_type") not in IDENTITY_TYPES:
        raise DomainError("Choose any, personal or business.", "identity_type")
    if values.get("address_area") not in ADDRESS_AREAS:
        raise DomainError("Choose where the address must be from the list.", "address_area")
    for entity in PROOF_ENTITIES:
        count = values.get(f"{entity}_proofs")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_PROOFS:
            raise DomainError(PROOFS_MESSAGE, f"{entity}_proofs")
    for kind, allowed in (("personal", PERSONAL_FIELDS), ("business", BUSINESS_FIELDS)):
        chosen = list(values.get(f"{kind}_mandatory_fields") or [])
        if any(name not in allowed for name in chosen):
            raise DomainError(f"Choose {kind} mandatory fields from the list.", f"{kind}_mandatory_fields")
        values[f"{kind}_mandatory_fields"] = [name for name in allowed if name in chosen]  # the list's order
    message = (values.get("restriction_message") or "").strip() or None
    if message is not None and len(message) > MAX_RESTRICTION:
        raise DomainError(RESTRICTION_MESSAGE, "restriction_message")
    values["restriction_message"] = message
    values["registration_required"] = bool(values.get("registration_required"))
    values["service_description_required"] = bool(values.get("service_description_required"))
    return values


# ---- helpers (inside the caller's transaction) ---------------------------------------------

def _accepted(session, wanted: dict | None) -> dict[str, list[int]]:
    """{entity: [proof type ids]} with the empty lists dropped (empty = any type); raises
    DomainError when an id is no proof type of that entity."""
    out = {}
    for entity in PROOF_ENTITIES:
        ids = sorted(set((wanted or {}).get(entity) or []))
        if not ids:
            continue
        found = set(session.scalars(sa.select(ProofType.id).where(ProofType.id.in_(ids),
                                                                  ProofType.entity == entity)))
        if found != set(ids):
            raise DomainError(f"Choose {entity} proof types from the list.", f"{entity}_proof_types")
        out[entity] = ids
    return out


def _values(session, req: Requirement) -> dict:
    """The audited fields, proof types by name."""
    accepted = _proof_type_names(session, req.accepted_proof_types or {})
    return {"country": req.country, "number_type": req.number_type,
            "registration_required": req.registration_required, "identity_type": req.identity_type,
            "address_area": req.address_area, "personal_proofs": req.personal_proofs,
            "business_proofs": req.business_proofs, "address_proofs": req.address_proofs,
            "accepted_proof_types": accepted, "personal_mandatory_fields": list(req.personal_mandatory_fields or []),
            "business_mandatory_fields": list(req.business_mandatory_fields or []),
            "service_description_required": req.service_description_required,
            "restriction_message": req.restriction_message}


def _proof_type_names(session, accepted: dict) -> list[str]:
    """{entity: [proof type ids]} as "entity: name" items, which History shows as a list."""
    names = dict(session.execute(sa.select(ProofType.id, ProofType.name)).all())
    return [f"{entity}: {names.get(i, f'#{i}')}" for entity in PROOF_ENTITIES for i in accepted.get(entity, [])]


def _pair_taken(session, country: str, number_type: str) -> bool:
    return session.scalar(sa.select(sa.exists().where(Requirement.country == country,
                                                      Requirement.number_type == number_type)))


def _set(req: Requirement, values: dict, accepted: dict) -> None:
    for key in ("registration_required", "identity_type", "address_area", "personal_proofs", "business_proofs",
                "address_proofs", "personal_mandatory_fields", "business_mandatory_fields",
                "service_description_required", "restriction_message"):
        setattr(req, key, values[key])
    req.accepted_proof_types = accepted


def _rule_values(values: dict) -> dict:
    return clean_rules({k: v for k, v in values.items() if k != "accepted_proof_types"})


# ---- the use cases ---------------------------------------------------------------------------

def create_requirement(actor, *, country: str, number_type: str, accepted_proof_types: dict | None = None,
                       **values) -> Requirement:
    """Add a country × type row (admin).

    Raises DomainError for a country or type that is neither a code nor *, any rule of §2, or
    "A requirement for ({country}, {type}) exists already." (the pair is unique).
    """
    country, number_type = clean_pair(country, number_type)
    values = _rule_values(values)
    with write_transaction() as session:
        if _pair_taken(session, country, number_type):
            raise DomainError(f"A requirement for {label(country, number_type)} exists already.", "country")
        req = Requirement(country=country, number_type=number_type)
        _set(req, values, _accepted(session, accepted_proof_types))
        session.add(req)
        session.flush()
        audit.record(actor, "requirement.created", "requirement", req.id, label(country, number_type),
                     after=_values(session, req))
    return req


def update_requirement(actor, requirement_id: int, *, version: int | None,
                       accepted_proof_types: dict | None = None, **values) -> Requirement:
    """Edit a row's rules (admin); its country and type stay as created. Requests already
    submitted keep what they were checked against (§2): nothing else changes.

    Raises DomainError as create_requirement() does, and Conflict on a stale `version`.
    """
    values = _rule_values(values)
    with write_transaction() as session:
        req = existing(session, Requirement, requirement_id, "That requirement does not exist.")
        check_version(req, version)
        before = _values(session, req)
        accepted = _accepted(session, accepted_proof_types)
        b, a = audit.diff(before, {**before, **{k: values[k] for k in values if k in before},
                                   "accepted_proof_types": _proof_type_names(session, accepted)})
        if a:
            _set(req, values, accepted)
            audit.record(actor, "requirement.updated", "requirement", req.id,
                         label(req.country, req.number_type), before=b, after=a)
    return req


def delete_requirement(actor, requirement_id: int) -> None:
    """Delete a row (admin); numbers added later fall back to the next row of the lookup.

    Raises InUse for the (*, *) row: it can be edited but not deleted.
    """
    with write_transaction() as session:
        req = existing(session, Requirement, requirement_id, "That requirement does not exist.")
        if (req.country, req.number_type) == (ANY, ANY):
            raise InUse(FALLBACK_REFUSAL)
        audit.record(actor, "requirement.deleted", "requirement", req.id, label(req.country, req.number_type),
                     before=_values(session, req))
        session.delete(req)
