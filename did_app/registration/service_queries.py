"""Reads for the services that need approval (registration.md §6): the admin's Service requests
page, the pickers of a number's services page and the names the details page shows."""
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from did_app.db import db
from did_app.models import Address, Identity, Number, NumberService, User

PER_PAGE = 50


@dataclass(frozen=True)
class ServiceRow:
    """One request as the Service requests page shows it."""
    service: NumberService
    number: str
    identity: str | None
    address: str | None
    requested_by: str | None
    decided_by: str | None


def service_requests(status=None, kind=None, digits=None, page: int = 1,
                     per_page: int = PER_PAGE) -> tuple[list[ServiceRow], int]:
    """One page of requests, pending first and then the newest, and the count of all that match."""
    conds = []
    if status:
        conds.append(NumberService.status == status)
    if kind:
        conds.append(NumberService.kind == kind)
    if digits:
        conds.append(Number.number == "+" + digits)
    base = sa.select(NumberService).join(Number, Number.id == NumberService.number_id).where(*conds)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
    requester, decider = aliased(User), aliased(User)
    query = (sa.select(NumberService, Number.number, Identity, Address, requester.display_name, decider.display_name)
             .join(Number, Number.id == NumberService.number_id)
             .outerjoin(Identity, Identity.id == NumberService.identity_id)
             .outerjoin(Address, Address.id == NumberService.address_id)
             .outerjoin(requester, requester.id == NumberService.requested_by)
             .outerjoin(decider, decider.id == NumberService.decided_by)
             .where(*conds)
             .order_by(sa.case((NumberService.status == "pending", 0), else_=1),
                       NumberService.requested_at.desc(), NumberService.id.desc())
             .limit(per_page).offset((page - 1) * per_page))
    return [_row(*r) for r in db.session.execute(query)], count


def service_row(service_id: int) -> ServiceRow | None:
    """One request as its row shows it (after a decision), or None when it is gone."""
    rows = db.session.execute(
        sa.select(NumberService, Number.number, Identity, Address)
        .join(Number, Number.id == NumberService.number_id)
        .outerjoin(Identity, Identity.id == NumberService.identity_id)
        .outerjoin(Address, Address.id == NumberService.address_id)
        .where(NumberService.id == service_id)).all()
    if not rows:
        return None
    service = rows[0][0]
    names = dict(db.session.execute(sa.select(User.id, User.display_name).where(
        User.id.in_([i for i in (service.requested_by, service.decided_by) if i]))).all())
    return _row(*rows[0], names.get(service.requested_by), names.get(service.decided_by))


def _row(service, number, identity, address, requested_by, decided_by) -> ServiceRow:
    return ServiceRow(service, number, identity.display_name if identity else None,
                      address.one_line if address else None, requested_by, decided_by)


def pending_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(NumberService.status == "pending"))


def identity_choices(number: Number) -> list[tuple[int, str]]:
    """The identities a number's services may use: only its registration identity when it has one
    (§6), else every identity, by name."""
    query = sa.select(Identity)
    if number.identity_id is not None:
        query = query.where(Identity.id == number.identity_id)
    identities = db.session.scalars(query).all()
    return sorted(((i.id, i.display_name) for i in identities), key=lambda c: c[1].lower())


def address_choices(identity_id: int | None) -> list[tuple[int, str]]:
    if identity_id is None:
        return []
    return [(a.id, a.one_line) for a in db.session.scalars(
        sa.select(Address).where(Address.identity_id == identity_id).order_by(Address.id))]


def service_names(services) -> dict[int, tuple[str | None, str | None]]:
    """{service id: (identity name, address)} for a number's services, in one query."""
    ids = [s.id for s in services]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(NumberService.id, Identity, Address).where(NumberService.id.in_(ids))
        .outerjoin(Identity, Identity.id == NumberService.identity_id)
        .outerjoin(Address, Address.id == NumberService.address_id)).all()
    return {sid: (i.display_name if i else None, a.one_line if a else None) for sid, i, a in rows}
