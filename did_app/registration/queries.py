"""Reads for the registration pages: requirements (registration.md §2), identities and addresses (§3)."""
from dataclasses import dataclass

import sqlalchemy as sa

from did_app.db import db
from did_app.models import Address, Identity, Number, NumberService, ProofType, Requirement, VerificationRequest

ANY = "*"


def requirements(country: str | None = None, number_type: str | None = None) -> list[Requirement]:
    """The rows, exact values first and * after (so (*, *) ends the list), optionally only those
    of one country (an ISO code or *) and one type (a code or *)."""
    query = sa.select(Requirement)
    if country:
        query = query.where(Requirement.country == country)
    if number_type:
        query = query.where(Requirement.number_type == number_type)
    rows = db.session.scalars(query).all()
    return sorted(rows, key=lambda r: (r.country == ANY, r.country, r.number_type == ANY, r.number_type))


def proof_type_choices(entity: str, keep: list[int] | None = None) -> list[tuple[int, str]]:
    """(id, name) of the entity's proof types a requirement may accept: the live ones, plus
    retired ones the requirement already names (`keep`), so an edit never drops them unseen."""
    keep = list(keep or [])
    rows = db.session.execute(sa.select(ProofType.id, ProofType.name, ProofType.retired)
                              .where(ProofType.entity == entity).order_by(ProofType.name)).all()
    return [(i, f"{name} (retired)" if retired else name) for i, name, retired in rows if not retired or i in keep]


def proof_type_names() -> dict[int, str]:
    return dict(db.session.execute(sa.select(ProofType.id, ProofType.name)).all())


# ---- identities (registration.md §3) --------------------------------------------------------

IDENTITIES_PER_PAGE = 50


def _verified():
    """Verified is derived, never stored: at least one approved request (§3)."""
    return sa.exists().where(VerificationRequest.identity_id == Identity.id,
                             VerificationRequest.status == "approved")


def _identity_conditions(kind: str | None, country: str | None, verified: str | None, q: str | None) -> list:
    conds = []
    if kind:
        conds.append(Identity.identity_type == kind)
    if country:
        conds.append(Identity.country == country)
    if verified == "yes":
        conds.append(_verified())
    elif verified == "no":
        conds.append(~_verified())
    if q:
        # lower() on both sides: ILIKE is PostgreSQL-only
        pattern = f"%{q.lower().replace('%', '').replace('_', '')}%"
        conds.append(sa.or_(*(sa.func.lower(c).like(pattern) for c in (
            Identity.first_name, Identity.last_name, Identity.company_name, Identity.contact_email,
            Identity.external_reference, Identity.first_name + " " + Identity.last_name))))
    return conds


def identities(kind=None, country=None, verified=None, q=None, page: int = 1,
               per_page: int = IDENTITIES_PER_PAGE) -> tuple[list[tuple[Identity, bool]], int]:
    """One page of (identity, verified), newest first, and the count of all that match."""
    conds = _identity_conditions(kind, country, verified, q)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Identity).where(*conds))
    rows = db.session.execute(sa.select(Identity, _verified().label("verified")).where(*conds)
                              .order_by(Identity.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return [(identity, bool(verified)) for identity, verified in rows], count


def identity_country_choices() -> list[str]:
    return db.session.scalars(sa.select(Identity.country).distinct().order_by(Identity.country)).all()


def is_verified(identity_id: int) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(
        VerificationRequest.identity_id == identity_id, VerificationRequest.status == "approved"))))


@dataclass(frozen=True)
class IdentityUse:
    """What uses an identity, for its page: counts and the first rows of each."""
    number_count: int
    numbers: list
    request_count: int
    requests: list
    service_count: int
    services: list


USE_ROWS = 20


def identity_use(identity_id: int) -> IdentityUse:
    numbers = sa.select(Number.id, Number.number).where(Number.identity_id == identity_id)
    requests = sa.select(VerificationRequest).where(VerificationRequest.identity_id == identity_id)
    services = sa.select(NumberService.id, NumberService.kind, NumberService.status, Number.id.label("number_id"),
                         Number.number).join(Number, Number.id == NumberService.number_id).where(
        NumberService.identity_id == identity_id)
    count = lambda q: db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))  # noqa: E731
    return IdentityUse(
        number_count=count(numbers), numbers=db.session.execute(numbers.order_by(Number.number).limit(USE_ROWS)).all(),
        request_count=count(requests),
        requests=db.session.scalars(requests.order_by(VerificationRequest.id.desc()).limit(USE_ROWS)).all(),
        service_count=count(services),
        services=db.session.execute(services.order_by(Number.number).limit(USE_ROWS)).all())


def addresses_of(identity_id: int) -> list[Address]:
    return db.session.scalars(sa.select(Address).where(Address.identity_id == identity_id)
                              .order_by(Address.id)).all()


def address_references(address_ids: list[int]) -> dict[int, list[str]]:
    """{address id: [request references]} for the address list."""
    out: dict[int, list[str]] = {}
    if address_ids:
        for address_id, ref in db.session.execute(sa.select(VerificationRequest.address_id,
                                                            VerificationRequest.reference)
                                                  .where(VerificationRequest.address_id.in_(address_ids))
                                                  .order_by(VerificationRequest.id)):
            out.setdefault(address_id, []).append(ref)
    return out
