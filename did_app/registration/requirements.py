"""Registration requirements: the seeded rows and `requirement_for` (registration.md §2)."""
import sqlalchemy as sa

from did_app.db import db
from did_app.models import Requirement

SEED_ROWS = (
    dict(country="*", number_type="*", registration_required=False, identity_type="any",
         address_area="country", personal_proofs=1, business_proofs=1, address_proofs=1),
    dict(country="*", number_type="toll_free", registration_required=False, identity_type="any",
         address_area="world_wide", personal_proofs=1, business_proofs=1, address_proofs=0),
    dict(country="*", number_type="global", registration_required=False, identity_type="any",
         address_area="world_wide", personal_proofs=1, business_proofs=1, address_proofs=0),
)


def requirement_for(country: str, number_type: str) -> Requirement:
    """The first row of (country, type), (country, *), (*, type), (*, *)."""
    candidates = [(country, number_type), (country, "*"), ("*", number_type), ("*", "*")]
    rows = db.session.scalars(sa.select(Requirement).where(
        sa.tuple_(Requirement.country, Requirement.number_type).in_(candidates))).all()
    by_key = {(r.country, r.number_type): r for r in rows}
    for key in candidates:
        if key in by_key:
            return by_key[key]
    raise LookupError("the (*, *) requirement row is missing; run `flask db upgrade`")


def requirement_table() -> dict[tuple[str, str], bool]:
    """{(country, type): registration_required} for resolving many numbers at once."""
    return {(r.country, r.number_type): r.registration_required
            for r in db.session.scalars(sa.select(Requirement))}


def registration_required(table: dict, country: str, number_type: str) -> bool:
    for key in ((country, number_type), (country, "*"), ("*", number_type), ("*", "*")):
        if key in table:
            return table[key]
    return False
