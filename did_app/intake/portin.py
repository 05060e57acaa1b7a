"""Port-in requests (lifecycle.md §4): create, edit, add or remove numbers, move through the
status table, complete (charge and go live) or cancel (release the numbers).

Every use case is one transaction and compares the request's `version` (a stale form raises
Conflict). Who may make a move is the table below; a refused role raises NotAllowed (HTTP 403).
"""
from datetime import timedelta

import phonenumbers
import sqlalchemy as sa

from did_app import audit, clock, money
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.intake.service import MAX_NUMBERS, Common, check_common, existing_numbers, make_specs, read_list
from did_app.lifecycle import create, forecast, ledger, periods, release
from did_app.models import Identity, Notification, Number, Order, PortInRequest, Workspace
from did_app.models.lifecycle import PORT_STATUSES
from did_app.object_checks import locked
from did_app.rules import status
from did_app.security import ROLE_RANK

ADMIN, ANYONE = "admin", "operator"  # the lowest role allowed
TRANSITIONS = {
    ("pending", "in_progress"): ADMIN,
    ("pending", "changes_required"): ADMIN,
    ("in_progress", "changes_required"): ADMIN,
    ("changes_required", "pending"): ANYONE,  # Resubmit
    ("pending", "completed"): ADMIN,
    ("in_progress", "completed"): ADMIN,
    ("changes_required", "completed"): ADMIN,
    ("pending", "cancelled"): ANYONE,
    ("changes_required", "cancelled"): ANYONE,
    ("in_progress", "cancelled"): ADMIN,
}
COMMENT_REQUIRED = {"changes_required", "cancelled"}
EDITABLE = ("pending", "changes_required")
SHORT = "Balance {balance} is short of {total}. Top up before completing."


class NotAllowed(DomainError):
    """The user's role may not make this move (HTTP 403)."""


def allowed_moves(current: str, role: str) -> list[str]:
    """The statuses `role` may move a request in `current` to, in the table's order."""
    return [to for (frm, to), lowest in TRANSITIONS.items()
            if frm == current and ROLE_RANK.get(role, -1) >= ROLE_RANK[lowest]]


# ---- helpers (no transaction of their own) ------------------------------------------------

def _load(session, request_id: int, version: int | None) -> PortInRequest:
    return locked(session, PortInRequest, request_id, version, missing="That port-in request does not exist.",
                  stale="This port-in request was changed by someone else. Review it and try again.")


def _touch(req: PortInRequest) -> None:
    # any change bumps the version (version_id_col), so open forms elsewhere go stale
    req.updated_at = clock.now()


def _order(session, req: PortInRequest) -> Order:
    return session.scalars(sa.select(Order).where(Order.port_in_request_id == req.id)
                           .order_by(Order.id).limit(1)).one()


def _clean_details(session, details: dict) -> dict:
    details = dict(details)
    carrier = (details.get("losing_carrier") or "").strip()
    if not carrier:
        raise DomainError("Enter the losing carrier.", "losing_carrier")
    if len(carrier) > 100:
        raise DomainError("Losing carrier must be at most 100 characters.", "losing_carrier")
    details["losing_carrier"] = carrier
    if len(details.get("account_number") or "") > 100:
        raise DomainError("Account number must be at most 100 characters.", "account_number")
    if len(details.get("notes") or "") > 2000:
        raise DomainError("Notes must be at most 2,000 characters.", "notes")
    if details.get("identity_id") is not None and session.get(Identity, details["identity_id"]) is None:
        raise DomainError("Choose an identity from the list.", "identity_id")
    return details


def _new_specs(session, text: str, common: Common, default_country: str, already: int = 0):
    """Specs for pasted numbers: each valid and new to the inventory, at most 10,000 in all."""
    numbers, bad = read_list(text, default_country)
    if bad:
        shown = ", ".join(f"'{b}'" for b in bad[:5])
        raise DomainError(f"Not valid phone numbers: {shown}{' …' if len(bad) > 5 else ''}.", "numbers")
    if already + len(numbers) > MAX_NUMBERS:
        raise DomainError("A port-in request can hold at most 10,000 numbers.", "numbers")
    taken = sorted(existing_numbers(session, numbers))
    if taken:
        more = f" and {len(taken) - 1:,} more" if len(taken) > 1 else ""
        raise DomainError(f"{taken[0]} is already in the inventory{more}.", "numbers")
    specs = make_specs([(n, phonenumbers.parse(n)) for n in numbers], common)
    check_common(session, common, specs)
    create.apply_rules(session, specs)
    return specs


def _workspace(session) -> Workspace:
    return session.scalars(sa.select(Workspace).order_by(Workspace.id).limit(1)).one()


def _record(actor, req: PortInRequest, action: str, *, before=None, after=None, note=None) -> None:
    audit.record(actor, action, "port_in", req.id, req.reference, before=before, after=after, note=note)


# ---- the use cases -------------------------------------------------------------------------

def create_port_in(actor, *, numbers_text: str, common: Common, details: dict) -> PortInRequest:
    """Create a port-in request (admin, operator) with its numbers: porting, no expiry, no
    charge, rules applied, and an order of kind port_in with status pending.

    Raises DomainError for a missing carrier, fields too long, an unknown identity, a number that
    is not valid or already in the inventory, more than 10,000 numbers, or a common field rule.
    """
    with write_transaction() as session:
        details = _clean_details(session, details)
        ws = _workspace(session)
        specs = _new_specs(session, numbers_text, common, ws.default_country)
        req = PortInRequest(**details, status="pending", common_fields=common.stored(),
                            created_at=clock.now(), created_by=actor.user_id)
        session.add(req)
        session.flush()
        req.reference = f"PI-{req.id:06d}"
        orders = create.create_numbers(session, actor, specs, kind="port_in", porting=True,
                                       port_in_request_id=req.id)
        _record(actor, req, "port_in.created", after={
            "losing_carrier": req.losing_carrier, "numbers": len(specs), "order": orders[0].reference})
    return req


def update_port_in(actor, request_id: int, *, version: int | None, details: dict) -> PortInRequest:
    """Edit a request's own fields while it is Pending or Changes required (admin, operator).
    Raises Conflict on a stale version, DomainError as create_port_in() does for the fields."""
    with write_transaction() as session:
        req = _load(session, request_id, version)
        _require_editable(req)
        details = _clean_details(session, details)
        before = {k: getattr(req, k) for k in details}
        b, a = audit.diff({k: _plain(v) for k, v in before.items()}, {k: _plain(v) for k, v in details.items()})
        if a:
            for key, value in details.items():
                setattr(req, key, value)
            _touch(req)
            _record(actor, req, "port_in.updated", before=b, after=a)
    return req


def add_port_in_numbers(actor, request_id: int, *, version: int | None, numbers_text: str) -> int:
    """Add numbers to a Pending or Changes required request, with the request's common fields
    and the rules (admin, operator). Returns how many were added."""
    with write_transaction() as session:
        req = _load(session, request_id, version)
        _require_editable(req)
        order = _order(session, req)
        common = Common.from_stored(req.common_fields)
        specs = _new_specs(session, numbers_text, common, _workspace(session).default_country,
                           already=_count(session, req))
        create.create_numbers(session, actor, specs, kind="port_in", porting=True,
                              port_in_request_id=req.id, order=order)
        _touch(req)
        _record(actor, req, "port_in.numbers_added", after={"numbers": [s.number for s in specs[:50]],
                                                            "count": len(specs)})
    return len(specs)


def remove_port_in_numbers(actor, request_id: int, *, version: int | None, number_ids: list[int]) -> int:
    """Remove numbers from a Pending or Changes required request (admin, operator): each is
    released with reason port_in_cancelled. A request keeps at least one number (cancel it
    instead). Returns how many were removed."""
    with write_transaction() as session:
        req = _load(session, request_id, version)
        _require_editable(req)
        ids = [i for i in dict.fromkeys(number_ids)]
        if not ids:
            raise DomainError("Choose the numbers to remove.")
        total = _count(session, req)
        removed = release.release_numbers(session, actor, ids, "port_in_cancelled",
                                          condition=sa.and_(Number.port_in_request_id == req.id,
                                                            Number.porting.is_(True)))
        if not removed:
            raise DomainError("None of those numbers belong to this request.")
        if len(removed) >= total:
            raise DomainError("A request needs at least one number. Cancel the request instead.")
        order = _order(session, req)
        order.number_count = max(0, order.number_count - len(removed))
        _touch(req)
        _record(actor, req, "port_in.numbers_removed", after={"count": len(removed)})
    return len(removed)


def change_status(actor, request_id: int, target: str, *, role: str, version: int | None,
                  comment: str | None = None) -> PortInRequest:
    """Move a request along the status table of §4 (Completed and Cancelled are final).

    Completing charges setup + first month per number, ends porting, starts expiry (one month
    on, anchored today) and registration, completes the order and notifies in-app; cancelling
    releases every number (port_in_cancelled) and cancels the order.
    Raises NotAllowed when `role` may not make the move; DomainError for a move the table does
    not have, a missing comment (Changes required, Cancelled) or a short balance; Conflict on a
    stale version. Nothing is written then.
    """
    comment = (comment or "").strip() or None
    with write_transaction() as session:
        req = _load(session, request_id, version)
        _check_move(req, target, role, comment)
        before = req.status
        if target == "completed":
            _complete(session, actor, req)
        elif target == "cancelled":
            _cancel(session, actor, req)
        elif target == "changes_required":
            _notify_changes(session, req, comment)
        req.status, req.status_comment = target, comment
        _touch(req)
        _record(actor, req, "port_in.status_changed", before={"status": PORT_STATUSES[before]},
                after={"status": PORT_STATUSES[target]}, note=comment)
    return req


# ---- status helpers ------------------------------------------------------------------------

def _check_move(req: PortInRequest, target: str, role: str, comment: str | None) -> None:
    if target not in PORT_STATUSES:
        raise DomainError("Choose a status from the list.")
    lowest = TRANSITIONS.get((req.status, target))
    if lowest is None:
        if req.status in ("completed", "cancelled"):
            raise DomainError(f"This request is {req.status_label.lower()}: completed and cancelled requests are final.")
        raise DomainError(f"A request that is {req.status_label} can't move to {PORT_STATUSES[target]}.")
    if ROLE_RANK.get(role, -1) < ROLE_RANK[lowest]:
        raise NotAllowed("You don't have permission to do that.")
    if target in COMMENT_REQUIRED and not comment:
        raise DomainError(f"Enter a comment: it is required for {PORT_STATUSES[target]}.", "comment")
    if comment and len(comment) > 2000:
        raise DomainError("Comment must be at most 2,000 characters.", "comment")


def _complete(session, actor, req: PortInRequest) -> None:
    ws, now = _workspace(session), clock.now()
    order = _order(session, req)
    rows = session.execute(sa.select(Number.id, Number.number, Number.setup_price_minor, Number.monthly_price_minor)
                           .where(Number.port_in_request_id == req.id, Number.porting.is_(True))
                           .order_by(Number.number)).all()
    if not rows:
        raise DomainError("This request has no numbers to complete.")
    entries = [ledger.Entry(setup + monthly, number_id=i, number=n, order_id=order.id,
                            detail={"setup": setup, "first_month": monthly}) for i, n, setup, monthly in rows]
    total = sum(e.amount_minor for e in entries)
    try:
        ledger.post(session, "add_charge", entries, actor)
    except ledger.BalanceShort as short:
        raise DomainError(SHORT.format(balance=money.format_money(short.balance_minor, ws.currency),
                                       total=money.format_money(total, ws.currency))) from None
    anchor = periods.anchor_day_of(now, ws.time_zone)
    expires = periods.next_expiry(now, 1, anchor, ws.time_zone)
    deadline = sa.bindparam("deadline", now + timedelta(days=ws.registration_deadline_days),
                            type_=Number.registration_deadline_at.type)
    session.execute(
        sa.update(Number).where(Number.port_in_request_id == req.id, Number.porting.is_(True))
        .values(porting=False, expires_at=expires, billing_anchor_day=anchor,
                awaiting_registration=Number.needs_registration,
                registration_deadline_at=sa.case((Number.needs_registration.is_(True), deadline), else_=None),
                version=Number.version + 1, updated_at=now, updated_by=actor.user_id)
        .execution_options(synchronize_session=False))
    order.status = "completed"
    audit.record_many(actor, [dict(
        action="number.port_in_completed", object_type="number", object_id=i, object_label=n,
        before={"status": "Porting in progress"}, after={"expires_at": periods.iso_key(expires)},
        note=f"Port-in {req.reference} completed") for i, n, _, _ in rows])
    session.add(Notification(kind="port_in_completed", created_at=now, count=len(rows),
                             message=f"Port-in {req.reference} completed: {len(rows):,} "
                                     f"number{'s' if len(rows) != 1 else ''} moved in.",
                             payload={"port_in": req.reference, "order": order.reference}))
    status.recompute(Number.port_in_request_id == req.id)
    forecast.recompute_cutoff(session)


def _cancel(session, actor, req: PortInRequest) -> None:
    ids = list(session.scalars(sa.select(Number.id).where(Number.port_in_request_id == req.id)))
    release.release_numbers(session, actor, ids, "port_in_cancelled",
                            condition=sa.and_(Number.port_in_request_id == req.id, Number.porting.is_(True)))
    _order(session, req).status = "cancelled"


def _notify_changes(session, req: PortInRequest, comment: str) -> None:
    session.add(Notification(kind="port_in_changes_required", created_at=clock.now(), count=_count(session, req),
                             message=f"Port-in {req.reference} needs changes: {comment}"[:1000],
                             payload={"port_in": req.reference}))


def _require_editable(req: PortInRequest) -> None:
    if req.status not in EDITABLE:
        raise DomainError(f"A request that is {req.status_label} can't be edited.")


def _count(session, req: PortInRequest) -> int:
    return session.scalar(sa.select(sa.func.count(Number.id)).where(Number.port_in_request_id == req.id)) or 0


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
