"""Review of verification requests (registration.md §5 "Review"; lifecycle.md §9 rows 6–7, §7
"Registration deadline", §12): approve, reject, withdraw, and the admin's list of reject reasons.

One transaction per use case. The numbers of a request change set-based (one UPDATE, one
multi-row history insert, one status recompute), whatever their count; every change is audited
and the in-app notification is written in the same transaction as its cause.
"""
from datetime import timedelta

import sqlalchemy as sa

from did_app import audit, clock
from did_app.db import write_transaction
from did_app.errors import DomainError
from did_app.lifecycle.periods import iso_key
from did_app.models import Number, RejectReason, VerificationRequest, VerificationRequestProof, Workspace
from did_app.notifications.service import notify, plural
from did_app.object_checks import STALE_MESSAGE, existing, locked
from did_app.rules import status

REQUEST_MISSING = "That verification request does not exist."
REASON_MISSING = "That reject reason does not exist."
CHOOSE_REASON = "Choose at least one reason."
REASONS_FROM_LIST = "Choose reasons from the list."
COMMENT_LIMIT = 2000
COMMENT_TOO_LONG = "Comment must be at most 2,000 characters."
REASON_TEXT = "Reason must be 1–255 characters."
STATUS_WORDS = {"pending": "In review", "approved": "Approved", "rejected": "Rejected"}


def _object(req: VerificationRequest) -> tuple:
    return "verification_request", req.id, req.reference or f"#{req.id}"


def _pending(session, request_id: int, version: int | None, verb: str) -> VerificationRequest:
    """The request, locked, at the rendered `version`, and still pending; raises DomainError when it
    is gone or already decided, Conflict when it changed since the page was rendered."""
    req = locked(session, VerificationRequest, request_id, version, missing=REQUEST_MISSING, stale=STALE_MESSAGE)
    if req.status != "pending":
        raise DomainError(f"Only a request in review can be {verb}; {req.reference} is {req.status}.")
    return req


def _awaiting(req: VerificationRequest):
    """The request's numbers that still await registration (the ones a decision moves)."""
    return sa.and_(Number.verification_request_id == req.id, Number.awaiting_registration.is_(True))


def _linked_numbers(session, where) -> list[tuple[int, str, object]]:
    return session.execute(sa.select(Number.id, Number.number, Number.registration_deadline_at)
                           .where(where).order_by(Number.number)).all()


def _update_numbers(session, actor, where, **values) -> None:
    """One UPDATE of the numbers `where`: an edit of each, so each version moves."""
    session.execute(sa.update(Number).where(where).values(
        version=Number.version + 1, updated_at=clock.now(), updated_by=actor.user_id, **values)
        .execution_options(synchronize_session=False))


def _when(value) -> str | None:
    return iso_key(value) if value is not None else None


def _decide(req: VerificationRequest, actor, decision: str) -> None:
    req.status = decision
    req.decided_at = clock.now()
    req.decided_by = actor.user_id


# ---- approve (lifecycle §9 row 6) -------------------------------------------------------------

def approve(actor, request_id: int, *, version: int | None) -> VerificationRequest:
    """Approve a request in review (admin): it becomes approved with the decision time and
    reviewer; every linked number still awaiting registration leaves it (deadline cleared,
    status recomputed) with a `number.registration_approved` history row; the
    `verification_approved` notification is written. Raises DomainError when the request is gone
    or not pending, Conflict on a stale `version`."""
    with write_transaction() as session:
        req = _pending(session, request_id, version, "approved")
        numbers = _linked_numbers(session, _awaiting(req))
        _decide(req, actor, "approved")
        session.flush()  # the recompute below reads the request's new status
        where = _awaiting(req)
        _update_numbers(session, actor, where, awaiting_registration=False, registration_deadline_at=None)
        status.recompute(Number.verification_request_id == req.id)
        audit.record(actor, "verification.approved", *_object(req), before={"status": "pending"},
                     after={"status": "approved", "numbers": len(numbers)})
        audit.record_many(actor, [dict(
            action="number.registration_approved", object_type="number", object_id=i, object_label=n,
            before={"status": "Awaiting registration", "registration_deadline_at": _when(deadline)},
            after={"registration_deadline_at": None}, note=f"Verification {req.reference} approved")
            for i, n, deadline in numbers])
        notify(session, "verification_approved", [n for _, n, _ in numbers],
               f"Verification {req.reference} was approved: {plural(len(numbers), 'number')} "
               f"{'is' if len(numbers) == 1 else 'are'} ready for configuration.")
    return req


# ---- reject (lifecycle §9 row 7, §7 "Registration deadline") ---------------------------------

def _chosen_reasons(session, reason_ids, comment: str | None) -> tuple[list[str], str | None]:
    """The texts of the chosen, live reasons in the list's order, and the trimmed comment.

    Raises DomainError on "reasons" when none (or an unknown one) is chosen, and on "comment"
    when a reason that needs one ("Other (see comment)") has none, or it is over 2,000."""
    ids = sorted({i for i in reason_ids or [] if isinstance(i, int)})
    if not ids:
        raise DomainError(CHOOSE_REASON, "reasons")
    rows = session.scalars(sa.select(RejectReason).where(RejectReason.id.in_(ids), RejectReason.retired.is_(False))
                           .order_by(RejectReason.position, RejectReason.id)).all()
    if len(rows) != len(ids):
        raise DomainError(REASONS_FROM_LIST, "reasons")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_LIMIT:
        raise DomainError(COMMENT_TOO_LONG, "comment")
    needing = next((r for r in rows if r.needs_comment), None)
    if needing is not None and comment is None:
        raise DomainError(f"Enter a comment: it is required for \u201c{needing.text}\u201d.", "comment")
    return [r.text for r in rows], comment


def _grace_days(session) -> int:
    days = session.scalar(sa.select(Workspace.resubmit_grace_days).order_by(Workspace.id).limit(1))
    return 7 if days is None else days  # the spec's default when no settings row exists yet


def reject(actor, request_id: int, *, version: int | None, reason_ids, comment: str | None = None
           ) -> VerificationRequest:
    """Reject a request in review (admin) with one or more reasons (and a comment where a reason
    needs one). Its numbers stay awaiting and linked; each one's deadline becomes
    max(deadline, rejected_at + resubmit grace days) with a `number.registration_rejected`
    history row; the `verification_rejected` notification is written. Raises DomainError as
    _chosen_reasons() does, or when the request is gone or not pending; Conflict on a stale
    `version`."""
    with write_transaction() as session:
        reasons, comment = _chosen_reasons(session, reason_ids, comment)
        req = _pending(session, request_id, version, "rejected")
        numbers = _linked_numbers(session, _awaiting(req))
        _decide(req, actor, "rejected")
        req.reject_reasons, req.reject_comment = reasons, comment
        session.flush()
        floor = req.decided_at + timedelta(days=_grace_days(session))
        deadline = Number.registration_deadline_at
        at_least = sa.bindparam("floor", floor, type_=deadline.type)
        _update_numbers(session, actor, _awaiting(req), registration_deadline_at=sa.case(
            (sa.or_(deadline.is_(None), deadline < at_least), at_least), else_=deadline))
        status.recompute(Number.verification_request_id == req.id)  # "Rejected — resubmit" needs attention
        text = "; ".join(reasons)
        audit.record(actor, "verification.rejected", *_object(req), before={"status": "pending"},
                     after={"status": "rejected", "reject_reasons": reasons, "reject_comment": comment},
                     note=text[:1000])
        audit.record_many(actor, [dict(
            action="number.registration_rejected", object_type="number", object_id=i, object_label=n,
            before={"registration_deadline_at": _when(old)},
            after={"registration_deadline_at": _when(floor if old is None or old < floor else old)},
            note=f"Verification {req.reference} rejected: {text}"[:1000]) for i, n, old in numbers])
        notify(session, "verification_rejected", [n for _, n, _ in numbers],
               f"Verification {req.reference} was rejected: {text}."[:1000])
    return req


# ---- withdraw --------------------------------------------------------------------------------

def withdraw(actor, request_id: int, *, version: int | None) -> str:
    """Withdraw a request in review (admin, operator); returns its reference.

    Its numbers are unlinked from it and from its identity, so they show "missing" again (their
    deadlines stand), each with a `number.details_withdrawn` history row. The request row and its
    proof links are deleted: the status list has no "withdrawn", and the audit rows (which carry
    the reference as text) keep its story. Raises DomainError when the request is gone or not
    pending, Conflict on a stale `version`."""
    with write_transaction() as session:
        req = _pending(session, request_id, version, "withdrawn")
        linked = Number.verification_request_id == req.id
        numbers = _linked_numbers(session, linked)
        _update_numbers(session, actor, linked, verification_request_id=None, identity_id=sa.case(
            (Number.identity_id == req.identity_id, None), else_=Number.identity_id))
        ids = [i for i, _, _ in numbers]
        for start in range(0, len(ids), 900):  # the link is gone: the numbers are named by id
            status.recompute(Number.id.in_(ids[start:start + 900]))
        audit.record(actor, "verification.withdrawn", *_object(req), before={"status": "pending"},
                     note=f"{plural(len(numbers), 'number')} back to missing details")
        audit.record_many(actor, [dict(
            action="number.details_withdrawn", object_type="number", object_id=i, object_label=n,
            before={"verification": req.reference}, after={"verification": None},
            note=f"Verification {req.reference} withdrawn") for i, n, _ in numbers])
        reference = req.reference
        session.execute(sa.delete(VerificationRequestProof).where(VerificationRequestProof.request_id == req.id))
        session.delete(req)
    return reference


# ---- the reject reasons (admin) ---------------------------------------------------------------

def _reason_text(text: str | None) -> str:
    text = (text or "").strip()
    if not 1 <= len(text) <= 255:
        raise DomainError(REASON_TEXT, "text")
    return text


def _reason_taken(session, text: str, own_id: int | None = None) -> None:
    cond = [sa.func.lower(RejectReason.text) == text.lower()]
    if own_id is not None:
        cond.append(RejectReason.id != own_id)
    if session.scalar(sa.select(sa.exists().where(*cond))):
        raise DomainError("That reason exists already.", "text")


def _reason_values(reason: RejectReason) -> dict:
    return {"text": reason.text, "needs_comment": reason.needs_comment, "retired": reason.retired}


def create_reason(actor, *, text: str | None, needs_comment: bool = False) -> RejectReason:
    """Add a reason at the end of the list (admin). Raises DomainError on "text" when it is
    empty, over 255 characters or already in the list."""
    text = _reason_text(text)
    with write_transaction() as session:
        _reason_taken(session, text)
        last = session.scalar(sa.select(sa.func.max(RejectReason.position)))
        reason = RejectReason(text=text, needs_comment=bool(needs_comment), position=(last or 0) + 1)
        session.add(reason)
        session.flush()
        audit.record(actor, "reject_reason.created", "reject_reason", reason.id, text, after=_reason_values(reason))
    return reason


def update_reason(actor, reason_id: int, *, text: str | None, needs_comment: bool, retired: bool) -> RejectReason:
    """Rename a reason, say whether it needs a comment, retire or restore it (admin). Requests
    keep the text they were rejected with. Raises DomainError as create_reason() does."""
    text = _reason_text(text)
    with write_transaction() as session:
        reason = existing(session, RejectReason, reason_id, REASON_MISSING)
        _reason_taken(session, text, reason.id)
        before = _reason_values(reason)
        reason.text, reason.needs_comment, reason.retired = text, bool(needs_comment), bool(retired)
        b, a = audit.diff(before, _reason_values(reason))
        if a:
            audit.record(actor, "reject_reason.updated", "reject_reason", reason.id, text, before=b, after=a)
    return reason
