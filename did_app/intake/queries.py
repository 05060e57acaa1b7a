"""Read side of intake: the Orders and Port-in requests lists, their detail pages' numbers and charges."""
from dataclasses import dataclass, field

import sqlalchemy as sa

from did_app import parsing
from did_app.db import db
from did_app.models import LedgerEntry, Number, Order, PortInRequest, User

PER_PAGE = 50
NUMBERS_SHOWN = 500


ORDER_KINDS = ("add", "import", "port_in")
ORDER_STATUSES = ("pending", "completed", "cancelled")


@dataclass
class ListFilter:
    q: str = ""
    kind: str = ""
    status: str = ""
    page: int = 1
    notes: list[str] = field(default_factory=list)  # "Ignored unknown filter value: …"

    @classmethod
    def from_args(cls, args, *, kinds=(), statuses=()) -> "ListFilter":
        """The filter of a list page; a kind or status outside `kinds` or `statuses` is ignored."""
        query = parsing.QueryArgs(args)
        f = cls(q=query.text("q", 100), kind=query.choice("kind", kinds), status=query.choice("status", statuses),
                page=query.page())
        f.notes = query.notes()
        return f

    def args(self, **overrides) -> dict:
        data = {"q": self.q, "kind": self.kind, "status": self.status, **overrides}
        return {k: v for k, v in data.items() if v}


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _page(stmt, f: ListFilter) -> tuple[list, bool]:
    """One page, plus whether another follows (reads one row more instead of counting)."""
    rows = db.session.execute(stmt.offset((f.page - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    return rows[:PER_PAGE], len(rows) > PER_PAGE


def orders_page(f: ListFilter) -> tuple[list, bool]:
    """(order, creator's name, port-in reference) rows, newest first."""
    stmt = (sa.select(Order, User.display_name, PortInRequest.reference)
            .outerjoin(User, User.id == Order.created_by)
            .outerjoin(PortInRequest, PortInRequest.id == Order.port_in_request_id)
            .order_by(Order.id.desc()))
    if f.kind:
        stmt = stmt.where(Order.kind == f.kind)
    if f.status:
        stmt = stmt.where(Order.status == f.status)
    if f.q:
        stmt = stmt.where(sa.or_(Order.reference.ilike(_like(f.q), escape="\\"),
                                 Order.external_reference.ilike(_like(f.q), escape="\\"),
                                 PortInRequest.reference.ilike(_like(f.q), escape="\\")))
    return _page(stmt, f)


def charged(order_ids: list[int]) -> dict[int, int]:
    """{order id: amount charged}, the sum of its ledger rows as a positive amount."""
    if not order_ids:
        return {}
    rows = db.session.execute(sa.select(LedgerEntry.order_id, sa.func.sum(LedgerEntry.amount_minor))
                              .where(LedgerEntry.order_id.in_(order_ids)).group_by(LedgerEntry.order_id))
    return {order_id: -(total or 0) for order_id, total in rows}


def order_by_reference(reference: str):
    """(order, creator's name, port-in request) or None."""
    return db.session.execute(
        sa.select(Order, User.display_name, PortInRequest)
        .outerjoin(User, User.id == Order.created_by)
        .outerjoin(PortInRequest, PortInRequest.id == Order.port_in_request_id)
        .where(Order.reference == reference)).first()


def order_ledger(order_id: int, limit: int = 100) -> list[LedgerEntry]:
    return list(db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.order_id == order_id)
                                   .order_by(LedgerEntry.id).limit(limit)))


def port_ins_page(f: ListFilter) -> tuple[list, bool]:
    """(request, number count, creator's name) rows, newest first."""
    count = (sa.select(sa.func.count(Number.id)).where(Number.port_in_request_id == PortInRequest.id)
             .scalar_subquery())
    stmt = (sa.select(PortInRequest, count.label("numbers"), User.display_name)
            .outerjoin(User, User.id == PortInRequest.created_by)
            .order_by(PortInRequest.id.desc()))
    if f.status:
        stmt = stmt.where(PortInRequest.status == f.status)
    if f.q:
        stmt = stmt.where(sa.or_(PortInRequest.reference.ilike(_like(f.q), escape="\\"),
                                 PortInRequest.losing_carrier.ilike(_like(f.q), escape="\\")))
    return _page(stmt, f)


def port_in_by_reference(reference: str) -> PortInRequest | None:
    return db.session.scalar(sa.select(PortInRequest).where(PortInRequest.reference == reference))


def request_numbers(request_id: int) -> tuple[list[Number], int, dict]:
    """The first numbers of a request (by number), how many it holds, and their charge totals."""
    base = sa.select(Number).where(Number.port_in_request_id == request_id)
    shown = list(db.session.scalars(base.order_by(Number.number).limit(NUMBERS_SHOWN)))
    total, setup, monthly = db.session.execute(
        sa.select(sa.func.count(Number.id), sa.func.coalesce(sa.func.sum(Number.setup_price_minor), 0),
                  sa.func.coalesce(sa.func.sum(Number.monthly_price_minor), 0))
        .where(Number.port_in_request_id == request_id, Number.porting.is_(True))).one()
    count = db.session.scalar(sa.select(sa.func.count(Number.id)).where(Number.port_in_request_id == request_id))
    return shown, count, {"porting": total, "setup": setup, "first_month": monthly, "total": setup + monthly}
