"""The reminder kinds of lifecycle.md §12: for each, the SQL of its pending subjects and of their
due dates, and what its grouped notification links to.

A number kind's due date is an instant (`expires_at`, or `expired_at` / `cancelled_at` plus a window
of days): its local day is found by joining against the local-day boundaries built in Python
(claims.py), so no time-zone arithmetic happens in SQL. A proof's due date is its `expires_on`, a
calendar date already. The workspace kind (`low_balance_forecast`) has one subject whose due date
the forecast computes in Python.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

import sqlalchemy as sa

from did_app.models import Address, Identity, Number, NumberService, Proof, VerificationRequest, Workspace
from did_app.models.registration import VerificationRequestProof
from did_app.rules import renewal

ZERO = timedelta(0)
IN_CHUNK = 500  # ids per IN (...) list when a group is described


@dataclass(frozen=True)
class NumberKind:
    """Numbers pending while `pending(ws)` holds, due on the local day of `column + shift(ws)`."""
    name: str
    column: sa.Column
    pending: Callable  # (ws) -> SQL condition, or None when nothing can be pending
    shift: Callable = lambda ws: ZERO
    subject_type: str = "number"

    def key(self):
        return self.column


@dataclass(frozen=True)
class ProofKind:
    """Proofs pending while `pending(today)` holds, due on `expires_on`."""
    name: str
    pending: Callable  # (today) -> SQL condition
    subject_type: str = "proof"

    def key(self):
        return Proof.expires_on


# ---- pending conditions ------------------------------------------------------------------------

def _expiring_no_renewal(ws):
    # coalesce() is "both null" and keeps SQLite's planner off the expired_at index, whose null
    # entries are nine rows in ten (as renewal.renews_expr does)
    return sa.and_(Number.billing_cycles_count == 0, sa.func.coalesce(Number.expired_at, Number.cancelled_at).is_(None),
                   Number.porting.is_(False), Number.expires_at.is_not(None))


def _renewal_balance_short(ws):
    # "renews and renewal_at_risk": the stored cutoff, as every page reads it (lifecycle.md §10)
    if ws.renewal_risk_cutoff_at is None:
        return None
    return renewal.at_risk_expr(ws.renewal_risk_cutoff_at)


def _aging(ws):
    return Number.expired_at.is_not(None)


def _restore_window(ws):
    return Number.cancelled_at.is_not(None)


def _registration_deadline(ws):
    # the same predicate as the deadline job's release, minus "deadline passed" (lifecycle.md §7)
    live_request = sa.exists().where(VerificationRequest.id == Number.verification_request_id,
                                     VerificationRequest.status.in_(("pending", "approved")))
    return sa.and_(Number.awaiting_registration.is_(True), Number.porting.is_(False),
                   Number.registration_deadline_at.is_not(None), ~live_request)


SERVICE_IN_USE = ("pending", "active")  # a rejected service rests on nothing


def _proof_identity():
    """The identity a proof belongs to: its own, or its address's (correlated to the enclosing
    query's proof however deep it sits)."""
    return sa.func.coalesce(
        Proof.identity_id,
        sa.select(Address.identity_id).where(Address.id == Proof.address_id).correlate_except(Address)
        .scalar_subquery())


def _still_need_registration(request_ids):
    """Numbers of these requests that still need registration. The request's index leads: the
    needs_registration index would read every such number."""
    return sa.and_(Number.verification_request_id.in_(request_ids),
                   sa.func.coalesce(Number.needs_registration, False).is_(True))


def _approved_requests_backed(by_proof):
    """The ids of approved requests whose proofs match `by_proof` (a condition on the link's proof_id)."""
    return (sa.select(VerificationRequest.id)
            .join(VerificationRequestProof, VerificationRequestProof.request_id == VerificationRequest.id)
            # coalesce() keeps SQLite's planner on the proof's link index: on the status index it
            # would read every approved request for each proof
            .where(by_proof, sa.func.coalesce(VerificationRequest.status, "") == "approved"))


def _backs_approved_request():
    """The proof backs an approved request with numbers that still need registration."""
    backed = _approved_requests_backed(VerificationRequestProof.proof_id == Proof.id).correlate(Proof)
    return sa.exists().where(_still_need_registration(backed))


def _identity_used_by_service():
    return sa.exists().where(NumberService.identity_id == _proof_identity(),
                             NumberService.status.in_(SERVICE_IN_USE))


def _proof_expiring(today: date):
    # "unexpired": a proof counts while expires_on has not passed (registration.md §4)
    return sa.and_(Proof.expires_on.is_not(None), Proof.expires_on >= today,
                   sa.or_(_backs_approved_request(), _identity_used_by_service()))


NUMBER_KINDS = (
    NumberKind("expiring_no_renewal", Number.expires_at, _expiring_no_renewal),
    NumberKind("renewal_balance_short", Number.expires_at, _renewal_balance_short),
    NumberKind("aging_removal", Number.expired_at, _aging, lambda ws: timedelta(days=ws.aging_pool_days)),
    NumberKind("restore_window_end", Number.cancelled_at, _restore_window,
               lambda ws: timedelta(days=ws.restore_window_days)),
    NumberKind("registration_deadline", Number.registration_deadline_at, _registration_deadline),
)
PROOF_KIND = ProofKind("proof_expiring", _proof_expiring)
LOW_BALANCE = "low_balance_forecast"
LOW_BALANCE_HORIZON_DAYS = 90
KINDS = tuple(k.name for k in NUMBER_KINDS) + (LOW_BALANCE, PROOF_KIND.name)


# ---- what a group's notification shows ------------------------------------------------------------

def _in_chunks(ids: list[int]):
    for i in range(0, len(ids), IN_CHUNK):
        yield ids[i:i + IN_CHUNK]


def numbers_by_id(session, ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """{id: (number, next renewal price)} for the numbers of `ids`."""
    found = {}
    # an expanding parameter: one compiled statement, and no per-id coercion of a literal list
    stmt = sa.select(Number.id, Number.number, renewal.renewal_price_expr()).where(
        Number.id.in_(sa.bindparam("ids", expanding=True)))
    for part in _in_chunks(ids):
        # Core rows: the ORM layer costs more than the query over thousands of ids
        for number_id, number, price in session.connection().execute(stmt, {"ids": part}):
            found[number_id] = (number, price)
    return found


def proof_numbers(session, proof_ids: list[int]) -> list[str]:
    """The numbers whose registration or services rest on these proofs: those of the approved
    requests the proofs back (still needing registration), and those with a service using the
    proofs' identities."""
    found = set()
    for part in _in_chunks(proof_ids):
        by_request = sa.select(Number.number).where(_still_need_registration(
            _approved_requests_backed(VerificationRequestProof.proof_id.in_(part))))
        identities = sa.select(_proof_identity()).where(Proof.id.in_(part))
        # coalesce() keeps SQLite's planner on the identity index: on the status index it would read
        # every service in use for each group
        by_service = (sa.select(Number.number).join(NumberService, NumberService.number_id == Number.id)
                      .where(NumberService.identity_id.in_(identities),
                             sa.func.coalesce(NumberService.status, "").in_(SERVICE_IN_USE)))
        found.update(session.scalars(sa.union(by_request, by_service)))
    return sorted(found)


def proof_identity_names(session, proof_ids: list[int]) -> list[str]:
    """The display names of the identities these proofs belong to, sorted, each once."""
    names = set()
    for part in _in_chunks(proof_ids):
        ids = sa.select(_proof_identity()).where(Proof.id.in_(part))
        names.update(i.display_name for i in session.scalars(sa.select(Identity).where(Identity.id.in_(ids))))
    return sorted(names, key=str.casefold)


def workspace_subject(ws: Workspace, due_on: date):
    """The one subject of the workspace kind with its due date, as a selectable (id, key)."""
    return sa.select(Workspace.id.label("id"), sa.literal(due_on, sa.Date).label("key")).where(Workspace.id == ws.id)
