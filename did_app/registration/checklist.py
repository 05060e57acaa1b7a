"""The requirement checklist of an assignment (registration.md §5, step 5): one item per rule of
the requirement, each ✓ or ✗ with its message. Used while assigning end-user details, before
submit, and on a request's page "as it stands now". Reads only; never writes.
"""
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from did_app.models import Address, Identity, Proof, ProofType, Requirement
from did_app.reference_lists import COUNTRY_CHOICES
from did_app.registration.service import BUSINESS_FIELDS, PERSONAL_FIELDS

COUNTRY_NAMES = dict(COUNTRY_CHOICES)
ENTITY_WORDS = {"personal": "personal", "business": "business", "address": "address"}


@dataclass(frozen=True)
class Item:
    key: str          # identity_type, field:<name>, address_area, proofs:<entity>, service_description
    ok: bool
    message: str      # the ✗ message of the spec; on ✓ a short statement of what passed


@dataclass(frozen=True)
class Place:
    """Where the numbers of an assignment are: they share one country (§5), and their regions and
    cities are what an address of area `region` or `city` must match."""
    country: str
    regions: frozenset[str | None] = frozenset()
    cities: frozenset[str | None] = frozenset()


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


def valid_proof_types(session, entity_column, entity_id: int, entity: str,
                      accepted: list[int] | None, today: date) -> set[int]:
    """The distinct proof types of the entity's unexpired proofs of its kind, limited to the
    accepted types when the requirement names some (empty = any type)."""
    query = (sa.select(Proof.proof_type_id).join(ProofType, ProofType.id == Proof.proof_type_id)
             .where(entity_column == entity_id, ProofType.entity == entity,
                    sa.or_(Proof.expires_on.is_(None), Proof.expires_on >= today)))
    if accepted:
        query = query.where(Proof.proof_type_id.in_(accepted))
    return set(session.scalars(query.distinct()))


def _identity_items(req: Requirement, identity: Identity) -> list[Item]:
    items = []
    if req.identity_type != "any":
        ok = identity.identity_type == req.identity_type
        items.append(Item("identity_type", ok, f"Identity must be {req.identity_type}." if not ok
                          else f"Identity is {identity.identity_type}."))
    fields = (req.personal_mandatory_fields if identity.identity_type == "personal"
              else req.business_mandatory_fields) or []
    labels = PERSONAL_FIELDS if identity.identity_type == "personal" else BUSINESS_FIELDS
    for name in fields:
        ok = getattr(identity, name, None) not in (None, "")
        label = labels.get(name, name).lower()
        items.append(Item(f"field:{name}", ok, f"Missing mandatory field: {label}." if not ok
                          else f"{labels.get(name, name)} filled in."))
    return items


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _address_item(req: Requirement, address: Address, place: Place) -> Item | None:
    area = req.address_area
    if area == "world_wide":
        return None
    country = country_name(place.country)
    if area == "country":
        ok = address.country == place.country
        return Item("address_area", ok, f"Address must be in {country}." if not ok else f"Address is in {country}.")
    wanted = place.regions if area == "region" else place.cities
    have = address.region if area == "region" else address.city
    # every number's region (or city) must be the address's: a request covers them all
    missing = sorted((w or "") for w in wanted if not _same(w, have)) if address.country == place.country \
        else sorted(w or "" for w in wanted)
    if address.country == place.country and not missing:
        where = have or ""
        return Item("address_area", True, f"Address is in {where}, {country}.")
    where = (missing[0] if missing else "") or ("the number's region" if area == "region" else "the number's city")
    return Item("address_area", False, f"Address must be in {where}, {country}.")


def _proof_item(session, req: Requirement, entity: str, column, entity_id: int, today: date) -> Item | None:
    needed = getattr(req, f"{entity}_proofs")
    if not needed:
        return None
    accepted = (req.accepted_proof_types or {}).get(entity) or []
    have = len(valid_proof_types(session, column, entity_id, entity, accepted, today))
    word = ENTITY_WORDS[entity]
    ok = have >= needed
    noun = "proof" if needed == 1 else "proofs"
    return Item(f"proofs:{entity}", ok, f"Needs {needed} {word} {noun}; {have} valid on file." if not ok
                else f"{needed} {word} {noun} needed; {have} valid on file.")


def checklist(session, req: Requirement, identity: Identity | None, address: Address | None,
              place: Place, service_description: str | None, today: date) -> list[Item]:
    """Every item the requirement asks of this identity, address and request. Without an identity
    or address yet, the items about them are ✗ with "Choose an identity." / "Choose an address."."""
    items: list[Item] = []
    if identity is None:
        items.append(Item("identity", False, "Choose an identity."))
    else:
        items += _identity_items(req, identity)
        proof = _proof_item(session, req, identity.identity_type, Proof.identity_id, identity.id, today)
        items += [proof] if proof else []
    if address is None:
        items.append(Item("address", False, "Choose an address."))
    else:
        area = _address_item(req, address, place)
        items += [area] if area else []
        proof = _proof_item(session, req, "address", Proof.address_id, address.id, today)
        items += [proof] if proof else []
    if req.service_description_required:
        ok = bool((service_description or "").strip())
        items.append(Item("service_description", ok, "Service description required." if not ok
                          else "Service description given."))
    return items


def passes(items: list[Item]) -> bool:
    return all(item.ok for item in items)
