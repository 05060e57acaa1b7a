"""Read side of the billing area: the ledger, per-number totals and released numbers, with the
filters their pages and CSV exports share. Dates are workspace-local days, both ends inclusive."""
import re
from dataclasses import dataclass, field, fields
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from did_app import parsing
from did_app.db import db, keyset_stream, newest_first_page
from did_app.models import CapacityPool, LedgerEntry, Number, ReleasedNumber
from did_app.models.lifecycle import LEDGER_KINDS

PER_PAGE = 50
CHARGE_KINDS = ("add_charge", "renewal", "manual_renewal", "restore_charge")
KIND_LABELS = {"top_up": "Top-up", "adjustment": "Adjustment", "add_charge": "Add charge", "renewal": "Renewal",
               "manual_renewal": "Manual renewal", "restore_charge": "Restore charge",
               "pool_charge": "Pool charge", "refund": "Refund"}
RELEASE_REASONS = {"expired": "Expired", "cancelled": "Cancelled", "registration_deadline": "Registration deadline",
                   "removed_unregistered": "Removed and refunded", "port_in_cancelled": "Port-in cancelled"}
TOTALS_SORTS = ("net", "charged", "refunded", "number")


def _day(query: parsing.QueryArgs, key: str) -> str:
    day = query.day(key)
    return day.isoformat() if day else ""


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _number_condition(column, text: str):
    """Digits typed in any format match inside the stored E.164 text."""
    digits = re.sub(r"\D", "", text)
    return column.like(_like(digits), escape="\\") if digits else None


def _between(column, date_from: str, date_to: str, tz: str) -> list:
    zone, conds = ZoneInfo(tz), []
    if date_from:
        conds.append(column >= datetime.combine(parsing.query_date(date_from), time.min, zone))
    if date_to:
        # the date window leaves room for the day after (9999-12-31 + 1 day overflows)
        conds.append(column < datetime.combine(parsing.query_date(date_to) + timedelta(days=1), time.min, zone))
    return conds


@dataclass
class _Filter:
    """Query-string filters: `from_args()` reads them (each filter's own in `_read`), `args()` gives
    them back for links, without blanks and the page; `notes` names the values that were ignored."""
    page: int = 1
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args):
        q = parsing.QueryArgs(args)
        f = cls(**cls._read(q), page=q.page())
        f.notes = q.notes()
        return f

    @staticmethod
    def _read(q: parsing.QueryArgs) -> dict:
        raise NotImplementedError

    def args(self, **overrides) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("page", "notes")}
        data.update(overrides)
        return {k: v for k, v in data.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.args())


# ---- ledger ---------------------------------------------------------------------------------

@dataclass
class LedgerFilter(_Filter):
    kind: str = ""
    date_from: str = ""
    date_to: str = ""
    number: str = ""

    @staticmethod
    def _read(q: parsing.QueryArgs) -> dict:
        return {"kind": q.choice("kind", LEDGER_KINDS), "date_from": _day(q, "date_from"),
                "date_to": _day(q, "date_to"), "number": q.text("number", 40)}

    def conditions(self, tz: str) -> list:
        conds = _between(LedgerEntry.at, self.date_from, self.date_to, tz)
        if self.kind:
            conds.append(LedgerEntry.kind == self.kind)
        if self.number:
            cond = _number_condition(LedgerEntry.number, self.number)
            conds.append(cond if cond is not None else sa.false())
        return conds


def ledger_page(conds: list, page: int) -> tuple[list[LedgerEntry], bool]:
    """One page, newest first; the flag says whether an older page exists."""
    return newest_first_page(LedgerEntry, conds, page, PER_PAGE)


def ledger_stream(conds: list, batch: int = 1000):
    """Every matching row, newest first, read in keyset pages."""
    return keyset_stream(LedgerEntry, conds, batch)


def pool_names() -> dict[int, str]:
    return dict(db.session.execute(sa.select(CapacityPool.id, CapacityPool.name)).all())


# ---- per-number totals ------------------------------------------------------------------------

@dataclass
class TotalsFilter(_Filter):
    number: str = ""
    date_from: str = ""
    date_to: str = ""
    sort: str = "net"

    @staticmethod
    def _read(q: parsing.QueryArgs) -> dict:
        return {"number": q.text("number", 40), "date_from": _day(q, "date_from"), "date_to": _day(q, "date_to"),
                "sort": q.choice("sort", TOTALS_SORTS, "net")}

    def args(self, **overrides) -> dict:
        data = super().args(**overrides)
        if data.get("sort") == "net":
            data.pop("sort")
        return data


def number_totals(f: TotalsFilter, tz: str) -> tuple[list, int]:
    """(rows, total count): per number (by id, so a number added again is a new line) its total
    charged, refunded and net, with `digits` set while the number is still in the inventory."""
    conds = [LedgerEntry.number_id.is_not(None), *_between(LedgerEntry.at, f.date_from, f.date_to, tz)]
    if f.number:
        cond = _number_condition(LedgerEntry.number, f.number)
        conds.append(cond if cond is not None else sa.false())
    # cast: PostgreSQL's SUM of bigint is numeric
    charged = sa.cast(sa.func.coalesce(sa.func.sum(sa.case((LedgerEntry.kind.in_(CHARGE_KINDS),
                                                            -LedgerEntry.amount_minor), else_=0)), 0), sa.BigInteger)
    refunded = sa.cast(sa.func.coalesce(sa.func.sum(sa.case((LedgerEntry.kind == "refund", LedgerEntry.amount_minor),
                                                            else_=0)), 0), sa.BigInteger)
    grouped = (sa.select(LedgerEntry.number_id.label("number_id"), sa.func.max(LedgerEntry.number).label("number"),
                         charged.label("charged"), refunded.label("refunded"),
                         (charged - refunded).label("net"), sa.func.count().label("entries"),
                         sa.func.max(LedgerEntry.at).label("last_at"))
               .where(*conds).group_by(LedgerEntry.number_id).subquery())
    count = db.session.scalar(sa.select(sa.func.count(sa.distinct(LedgerEntry.number_id))).where(*conds)) or 0

    def order(q):
        return {"net": (q.net.desc(), q.number), "charged": (q.charged.desc(), q.number),
                "refunded": (q.refunded.desc(), q.number), "number": (q.number,)}[f.sort] + (q.number_id,)

    # sort and cut the page first: joining every group to `number` before the LIMIT reads the table
    page = (sa.select(grouped).order_by(*order(grouped.c))
            .offset((f.page - 1) * PER_PAGE).limit(PER_PAGE).subquery())
    stmt = (sa.select(page, Number.number.label("current"))
            .outerjoin(Number, Number.id == page.c.number_id).order_by(*order(page.c)))
    return db.session.execute(stmt).all(), count


# ---- released numbers -------------------------------------------------------------------------

@dataclass
class ReleasedFilter(_Filter):
    q: str = ""
    reason: str = ""
    country: str = ""
    date_from: str = ""
    date_to: str = ""

    @staticmethod
    def _read(q: parsing.QueryArgs) -> dict:
        country = q.text("country").upper()
        if country and not re.fullmatch(r"[A-Z0-9]{2,3}", country):
            q.ignored.append(parsing.ignored_item("country", country))
            country = ""
        return {"q": q.text("q", 100), "reason": q.choice("reason", RELEASE_REASONS), "country": country,
                "date_from": _day(q, "date_from"), "date_to": _day(q, "date_to")}

    def conditions(self, tz: str) -> list:
        conds = _between(ReleasedNumber.released_at, self.date_from, self.date_to, tz)
        if self.reason:
            conds.append(ReleasedNumber.reason == self.reason)
        if self.country:
            conds.append(ReleasedNumber.country == self.country)
        if self.q:
            # digits search the number; words search the description
            cond = _number_condition(ReleasedNumber.number, self.q)
            words = ReleasedNumber.description.ilike(_like(self.q), escape="\\")
            conds.append(sa.or_(cond, words) if cond is not None else words)
        return conds


def _released_select(conds: list):
    # a number added again after its release: its details page exists again
    return (sa.select(ReleasedNumber, Number.id.label("current_id"))
            .outerjoin(Number, Number.number == ReleasedNumber.number)
            .where(*conds))


def released_page(conds: list, page: int) -> tuple[list, int]:
    """(rows of (ReleasedNumber, id of the same number in the inventory or None), total count)."""
    count = db.session.scalar(sa.select(sa.func.count()).select_from(ReleasedNumber).where(*conds)) or 0
    rows = db.session.execute(_released_select(conds)
                              .order_by(ReleasedNumber.released_at.desc(), ReleasedNumber.id.desc())
                              .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return rows, count


def released_stream(conds: list, batch: int = 1000):
    last = None
    while True:
        stmt = sa.select(ReleasedNumber).where(*conds)
        if last is not None:
            stmt = stmt.where(sa.tuple_(ReleasedNumber.released_at, ReleasedNumber.id) < sa.tuple_(*last))
        rows = db.session.scalars(stmt.order_by(ReleasedNumber.released_at.desc(), ReleasedNumber.id.desc())
                                  .limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = (rows[-1].released_at, rows[-1].id)
        db.session.expunge_all()


def released_countries() -> list[str]:
    return list(db.session.scalars(sa.select(ReleasedNumber.country).distinct().order_by(ReleasedNumber.country)))
