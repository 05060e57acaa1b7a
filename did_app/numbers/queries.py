"""Read side of My Numbers: the view state from the query string, filters, counts, sort, paging."""
from __future__ import annotations  # View has a field named "list"

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from did_app import parsing
from did_app.db import db
from did_app.models import (
    LedgerEntry,
    Number,
    NumberService,
    Order,
    PortInRequest,
    VerificationRequest,
)
from did_app.models.numbers import FEATURES, NUMBER_TYPES, STATUSES
from did_app.numbers import blockers
from did_app.rules import attention

QUICK_FILTERS = ("attention", "active", "not_configured", "awaiting_registration", "porting",
                 "expiring_soon", "terminated")
QUICK_LABELS = {"attention": "Needs attention", "expiring_soon": "Expiring soon", **STATUSES}
VERIFICATIONS = ("not_required", "missing", "pending", "rejected", "approved")
SORTS = ("number", "-number", "expires", "-expires", "country", "status")
PER_PAGE = (25, 50, 100, 250, 500)
DESCRIPTION_MAX = 255  # numbers.md §1
LIST_KEYS = ("status", "country", "type", "feature", "voice_route", "sms_route", "capacity_group",
             "identity", "verification", "cycles", "blocker")
TEXT_KEYS = ("q", "list", "description", "region", "city", "expires_within", "expires_from",
             "expires_to", "order")


@dataclass
class View:
    """Everything that defines a view of the table; it round-trips through the query string."""
    status: list[str] = field(default_factory=list)
    country: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    feature: list[str] = field(default_factory=list)
    voice_route: list[str] = field(default_factory=list)
    sms_route: list[str] = field(default_factory=list)
    capacity_group: list[str] = field(default_factory=list)
    identity: list[str] = field(default_factory=list)
    verification: list[str] = field(default_factory=list)
    cycles: list[str] = field(default_factory=list)
    blocker: list[str] = field(default_factory=list)
    q: str = ""
    description: str = ""
    region: str = ""
    city: str = ""
    expires_within: str = ""
    expires_from: str = ""
    expires_to: str = ""
    order: str = ""
    sort: str = "expires"
    page: int = 1
    per_page: int = 50
    ignored: list[str] = field(default_factory=list)
    list: str = ""  # a saved list's token; declared last because it shadows the builtin in this body

    def pairs(self, **overrides) -> list[tuple[str, str]]:
        """Query-string pairs of this view (defaults left out), with `overrides` applied."""
        data = {k: getattr(self, k) for k in (*LIST_KEYS, *TEXT_KEYS, "sort", "page", "per_page")}
        data.update(overrides)
        out = []
        for key in (*LIST_KEYS, *TEXT_KEYS):
            value = data[key]
            out.extend((key, v) for v in value) if isinstance(value, list) else (
                out.append((key, value)) if value else None)
        if data["sort"] != "expires":
            out.append(("sort", data["sort"]))
        if int(data["page"]) != 1:
            out.append(("page", str(data["page"])))
        if int(data["per_page"]) != 50:
            out.append(("per_page", str(data["per_page"])))
        return out

    def url_query(self, **overrides) -> str:
        return urlencode(self.pairs(**overrides))

    @property
    def has_filters(self) -> bool:
        return any(getattr(self, k) for k in (*LIST_KEYS, *TEXT_KEYS))

    @property
    def filter_count(self) -> int:
        return sum(len(getattr(self, k)) if isinstance(getattr(self, k), list) else bool(getattr(self, k))
                   for k in (*LIST_KEYS, *TEXT_KEYS))


def _is_id(text: str) -> bool:
    return parsing.query_id(text) is not None


def _valid_date(text: str) -> bool:
    return parsing.query_date(text) is not None


_CHECKS = {
    "status": lambda v: v in QUICK_FILTERS,
    "type": lambda v: v in NUMBER_TYPES,
    "feature": lambda v: v in FEATURES,
    "verification": lambda v: v in VERIFICATIONS,
    "country": lambda v: len(v) in (2, 3) and v.isalnum(),
    "voice_route": lambda v: v == "none" or _is_id(v),
    "sms_route": lambda v: v == "none" or _is_id(v),
    "capacity_group": lambda v: v == "none" or _is_id(v),
    "identity": lambda v: v == "none" or _is_id(v),
    "cycles": lambda v: v == "unlimited" or parsing.query_int(v, 0, 999) is not None,
    "blocker": lambda v: v in blockers.BLOCKERS,
    "expires_within": lambda v: parsing.query_int(v, 1, 3650) is not None,
    "expires_from": _valid_date,
    "expires_to": _valid_date,
    # no stored value is longer, so a longer one matches nothing; SQLite refuses a LIKE pattern
    # over 50,000 bytes ("pattern too complex")
    "description": lambda v: len(v) <= DESCRIPTION_MAX,
    "order": lambda v: len(v) <= 100,
    "region": lambda v: len(v) <= 100,
    "city": lambda v: len(v) <= 100,
}


def parse_view(args) -> View:
    """Read the query string; unknown values are dropped and named in `ignored`, never a 500."""
    view = View()
    for key in LIST_KEYS:
        values = []
        for raw in args.getlist(key):
            value = raw.strip().upper() if key == "country" else raw.strip()
            if not value:
                continue
            if _CHECKS[key](value):
                if value not in values:
                    values.append(value)
            else:
                view.ignored.append(parsing.ignored_item(key, raw))
        setattr(view, key, values)
    for key in TEXT_KEYS:
        value = parsing.clean_text((args.get(key) or "").strip())
        if value and key in _CHECKS and not _CHECKS[key](value):
            view.ignored.append(parsing.ignored_item(key, value))
            value = ""
        setattr(view, key, value)
    if (len(view.country) != 1) and (view.region or view.city):
        view.ignored.extend(parsing.ignored_item(k, getattr(view, k)) for k in ("region", "city") if getattr(view, k))
        view.region = view.city = ""
    query = parsing.QueryArgs(args)
    view.sort = query.choice("sort", SORTS, "expires")
    view.per_page = query.number("per_page", min(PER_PAGE), max(PER_PAGE), 50)
    if view.per_page not in PER_PAGE:
        query.ignored.append(parsing.ignored_item("per_page", view.per_page))
        view.per_page = 50
    view.page = query.page()
    view.ignored.extend(query.ignored)
    return view


# ---------------------------------------------------------------- conditions

def _has_feature(code: str):
    bit = FEATURES[code][1]
    return Number.features.op("&")(bit) == bit


def _vr_status_is(status: str):
    return sa.exists().where(VerificationRequest.id == Number.verification_request_id,
                             VerificationRequest.status == status)


# "awaiting" asked as the stored status rather than the flag: the two agree (a number awaits only once
# it is not porting, and awaiting comes first in status precedence), and the status is indexed with
# expiry, so the filter reads the ~5% awaiting rows in page order instead of scanning all (B2r: 65 → 25 ms)
_AWAITING = Number.status == "awaiting_registration"


def verification_condition(state: str):
    return {
        "not_required": Number.needs_registration.is_(False),
        "missing": sa.and_(_AWAITING, Number.verification_request_id.is_(None)),
        "pending": sa.and_(_AWAITING, _vr_status_is("pending")),
        "rejected": sa.and_(_AWAITING, _vr_status_is("rejected")),
        "approved": sa.and_(Number.needs_registration.is_(True), Number.awaiting_registration.is_(False)),
    }[state]


def _status_condition(value: str, ws, now):
    if value == "attention":
        return attention.condition(ws, now)
    if value == "expiring_soon":
        return Number.expiring_soon.is_(True)
    return Number.status == value


def _id_or_none(column, values, extra_none=None):
    ids = [int(v) for v in values if v != "none"]
    parts = [column.in_(ids)] if ids else []
    if "none" in values:
        parts.append(sa.and_(column.is_(None), *( [extra_none] if extra_none is not None else [])))
    return sa.or_(*parts)


def _local_day_start(day: date, tz: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))


def filter_conditions(view: View, ws, now: datetime) -> list:
    """SQL conditions of every filter except the search box (which `search_conditions` handles)."""
    conds = []
    if view.status:
        conds.append(sa.or_(*(_status_condition(v, ws, now) for v in view.status)))
    if view.description:
        conds.append(Number.description.ilike(f"%{_escape_like(view.description)}%", escape="\\"))
    if view.country:
        conds.append(Number.country.in_(view.country))
    if view.region:
        conds.append(sa.func.lower(Number.region) == view.region.lower())
    if view.city:
        conds.append(sa.func.lower(Number.city) == view.city.lower())
    if view.type:
        conds.append(Number.number_type.in_(view.type))
    conds.extend(_has_feature(code) for code in view.feature)
    if view.voice_route:
        conds.append(_id_or_none(Number.voice_route_id, view.voice_route, _has_feature("voice_in")))
    if view.sms_route:
        conds.append(_id_or_none(Number.sms_route_id, view.sms_route, _has_feature("sms_in")))
    if view.capacity_group:
        conds.append(_id_or_none(Number.capacity_group_id, view.capacity_group))
    if view.identity:
        conds.append(_id_or_none(Number.identity_id, view.identity))
    if view.verification:
        conds.append(sa.or_(*(verification_condition(v) for v in view.verification)))
    if view.cycles:
        parts = [Number.billing_cycles_count.is_(None)] if "unlimited" in view.cycles else []
        exact = [int(c) for c in view.cycles if c != "unlimited"]
        if exact:
            parts.append(Number.billing_cycles_count.in_(exact))
        conds.append(sa.or_(*parts))
    if view.blocker:
        conds.append(sa.or_(*(blockers.condition(v) for v in view.blocker)))
    if view.expires_within:
        conds.append(Number.expires_at >= now)
        conds.append(Number.expires_at < now + timedelta(days=int(view.expires_within)))
    if view.expires_from:
        conds.append(Number.expires_at >= _local_day_start(date.fromisoformat(view.expires_from), ws.time_zone))
    if view.expires_to:
        end = date.fromisoformat(view.expires_to) + timedelta(days=1)
        conds.append(Number.expires_at < _local_day_start(end, ws.time_zone))
    if view.order:
        conds.append(_order_condition(view.order))
    return conds


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order_condition(text: str):
    pattern = f"%{_escape_like(text)}%"
    orders = sa.select(Order.id).where(sa.or_(Order.reference.ilike(pattern, escape="\\"),
                                              Order.external_reference.ilike(pattern, escape="\\")))
    ports = sa.select(PortInRequest.id).where(PortInRequest.reference.ilike(pattern, escape="\\"))
    return sa.or_(Number.order_id.in_(orders), Number.port_in_request_id.in_(ports))


def search_conditions(plan) -> list:
    if plan.kind == "description":
        if any(len(w) > DESCRIPTION_MAX for w in plan.words):  # no description holds it
            return [sa.false()]
        return [Number.description.ilike(f"%{_escape_like(w)}%", escape="\\") for w in plan.words]
    if plan.kind == "fragment":
        return [Number.number.like(f"%{plan.fragment}%")]
    if plan.kind == "numbers":
        return [Number.number.in_(plan.numbers)] if plan.numbers else [sa.false()]
    return []


# ---------------------------------------------------------------- counts

def _count(*where):
    stmt = sa.select(sa.func.count()).select_from(Number)
    return (stmt.where(*where) if where else stmt).scalar_subquery()


_COUNTS = {}


def _counts_statement(with_risk: bool):
    """The counts query, built once per shape; the instants are bound per call."""
    if with_risk in _COUNTS:
        return _COUNTS[with_risk]
    smaller = [s for s in STATUSES if s != "active"]
    columns = [_count().label("all")] + [_count(Number.status == s).label(s) for s in smaller]
    columns.append(_count(Number.expiring_soon.is_(True)).label("expiring_soon"))
    # Needs attention is counted part by part: its parts are disjoint ranges of indexed columns
    parts = attention.parts(sa.bindparam("soon"), sa.bindparam("restore_cutoff"),
                            sa.bindparam("risk") if with_risk else None)
    columns += [_count(part).label(name) for name, part in parts.items()]
    _COUNTS[with_risk] = sa.select(*columns)
    return _COUNTS[with_risk]


def quick_filter_counts(ws, now: datetime) -> dict[str, int]:
    """Counts over the whole inventory, in one query of index-range counts.

    Each count reads one range of an index on a stored column, which is far cheaper than grouping
    the whole table; Active, the big bucket, is the total (a b-tree count) minus the others. The
    clock-driven parts of Needs attention are narrow ranges of the cancellation and expiry indexes.
    """
    params = attention.bounds(ws, now)
    with_risk = params["risk"] is not None
    if not with_risk:
        del params["risk"]
    row = db.session.execute(_counts_statement(with_risk), params).one()._mapping
    smaller = [s for s in STATUSES if s != "active"]
    counts = {s: row[s] for s in smaller}
    counts["all"] = row["all"]
    counts["active"] = row["all"] - sum(counts[s] for s in smaller)
    counts["expiring_soon"] = row["expiring_soon"]
    counts["attention"] = attention.total(row)
    return counts


# ---------------------------------------------------------------- sort and paging

STATUS_ORDER = list(STATUSES)


def _segments(sort: str):
    """The sort as ordered segments, each (condition, order_by) served by one index.

    Splitting keeps every page an index walk: rows without expires_at (porting) come last in
    both directions, and status follows the order of numbers.md §4.2.
    """
    if sort == "expires":
        return [(Number.expires_at.is_not(None), (Number.expires_at, Number.number)),
                (Number.expires_at.is_(None), (Number.number,))]
    if sort == "-expires":
        return [(Number.expires_at.is_not(None), (Number.expires_at.desc(), Number.number.desc())),
                (Number.expires_at.is_(None), (Number.number.desc(),))]
    if sort == "status":
        return [(Number.status == s, (Number.number,)) for s in STATUS_ORDER]
    if sort == "country":
        return [(sa.true(), (Number.country, Number.number))]
    if sort == "-number":
        return [(sa.true(), (Number.number.desc(),))]
    return [(sa.true(), (Number.number,))]


@dataclass
class Page:
    rows: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def segment_counts(conds: list, sort: str) -> list[int]:
    segs = _segments(sort)
    if len(segs) == 1:
        return [db.session.scalar(sa.select(sa.func.count()).select_from(Number).where(*conds))]
    cols = [sa.func.count(sa.case((cond, 1))) for cond, _ in segs]
    return list(db.session.execute(sa.select(*cols).select_from(Number).where(*conds)).one())


def page_ids(conds: list, sort: str, seg_counts: list[int], page: int, per_page: int) -> list[int]:
    """Ids of one page: only the segments it touches are read, by index order and offset."""
    offset, wanted, ids = (page - 1) * per_page, per_page, []
    for (cond, order_by), count in zip(_segments(sort), seg_counts):
        if offset >= count:
            offset -= count
            continue
        take = min(wanted, count - offset)
        stmt = (sa.select(Number.id).where(cond, *conds).order_by(*order_by)
                .offset(offset).limit(take))
        ids.extend(db.session.scalars(stmt))
        wanted -= take
        offset = 0
        if wanted <= 0:
            break
    return ids


def load_rows(ids: list[int]) -> list[Number]:
    """Full rows for the ids, in the ids' order, with what the table shows."""
    if not ids:
        return []
    # many-to-one in the same query (load_only would cost more than the columns it saves)
    rows = db.session.scalars(sa.select(Number).where(Number.id.in_(ids)).options(
        joinedload(Number.voice_route), joinedload(Number.sms_route), joinedload(Number.capacity_group),
        joinedload(Number.identity), joinedload(Number.verification_request))).all()
    # services by hand: selectinload's per-call setup costs several times the query itself
    services = {}
    for svc in db.session.scalars(sa.select(NumberService).where(NumberService.number_id.in_(ids))
                                  .order_by(NumberService.kind)):
        services.setdefault(svc.number_id, []).append(svc)
    for number in rows:
        set_committed_value(number, "services", services.get(number.id, []))
    by_id = {n.id: n for n in rows}
    return [by_id[i] for i in ids if i in by_id]


def fetch_page(conds: list, view: View, counts: dict | None) -> Page:
    seg_counts = _known_segment_counts(view, counts, conds)
    if seg_counts is None:
        seg_counts = segment_counts(conds, view.sort)
    total = sum(seg_counts)
    pages = max(1, -(-total // view.per_page))
    page = min(view.page, pages)  # a page past the end shows the last page
    ids = page_ids(conds, view.sort, seg_counts, page, view.per_page)
    return Page(rows=load_rows(ids), total=total, page=page, per_page=view.per_page)


def _known_segment_counts(view: View, counts: dict | None, conds: list) -> list[int] | None:
    """Segment sizes the quick-filter counts already hold: no filter, or one quick filter alone."""
    if counts is None:
        return None
    if not conds:
        return _unfiltered_segment_counts(view.sort, counts)
    if view.filter_count != 1 or len(view.status) != 1:
        return None
    key = view.status[0]
    total = counts[key]
    if view.sort in ("expires", "-expires"):
        # expires_at is null exactly while porting; Needs attention never includes porting
        if key == "porting":
            porting = total
        elif key == "expiring_soon":
            porting = db.session.scalar(sa.select(sa.func.count()).where(
                Number.status == "porting", Number.expiring_soon.is_(True)))
        else:
            porting = 0
        return [total - porting, porting]
    if view.sort == "status":
        return [total if s == key else 0 for s in STATUS_ORDER] if key in STATUSES else None
    return [total]


def _unfiltered_segment_counts(sort: str, counts: dict) -> list[int]:
    if sort in ("expires", "-expires"):
        # expires_at is null exactly while porting (numbers.md §1)
        return [counts["all"] - counts["porting"], counts["porting"]]
    if sort == "status":
        return [counts[s] for s in STATUS_ORDER]
    return [counts["all"]]


def facet_values(column, country: str, region: str | None = None) -> list[str]:
    stmt = sa.select(column).where(Number.country == country, column.is_not(None)).distinct().order_by(column)
    if region:
        stmt = stmt.where(sa.func.lower(Number.region) == region.lower())
    return list(db.session.scalars(stmt.limit(500)))


def number_ledger(number_id: int, limit: int = 20):
    return db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.number_id == number_id)
                              .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc()).limit(limit)).all()


def number_totals(number_id: int) -> dict:
    """Charged (money out) and refunded (money in) for one number, in minor units."""
    charged, refunded = db.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((LedgerEntry.amount_minor < 0, -LedgerEntry.amount_minor), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((LedgerEntry.kind == "refund", LedgerEntry.amount_minor), else_=0)), 0),
    ).where(LedgerEntry.number_id == number_id)).one()
    return {"charged": charged, "refunded": refunded}
