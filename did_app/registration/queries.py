"""Reads for the requirements pages (registration.md §2)."""
import sqlalchemy as sa

from did_app.db import db
from did_app.models import ProofType, Requirement

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
