"""Review of verification requests (registration.md §5; lifecycle.md §9 rows 6–7, §7, §12):
approve takes the numbers out of Awaiting registration in its own transaction, reject needs a
reason (and a comment for "Other") and extends deadlines by the max rule, withdraw unlinks; each
with its history rows and notification."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.audit import Actor
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import AuditEvent, Notification, Number, RejectReason, VerificationRequest, Workspace
from did_app.registration import reviews
from tests.factories import make_identity, make_number, make_verification_request

ADMIN = Actor(None, "cli", "cli")


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _awaiting(vr, deadline_days=10, **kw):
    return make_number(needs_registration=True, awaiting_registration=True, identity_id=vr.identity_id,
                       verification_request_id=vr.id,
                       registration_deadline_at=clock.now() + timedelta(days=deadline_days), **kw)


def _reason(text_start: str) -> int:
    return db.session.scalar(sa.select(RejectReason.id).where(RejectReason.text.startswith(text_start)))


def _actions(number_id) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "number", AuditEvent.object_id == number_id).order_by(AuditEvent.id)))


def _number(number_id) -> Number:
    db.session.expire_all()
    return db.session.get(Number, number_id)


def test_approve_takes_the_numbers_out_of_awaiting_with_status_recomputed(ctx):
    vr = make_verification_request()
    a, b = _awaiting(vr), _awaiting(vr)
    assert a.status == "awaiting_registration" and a.attention_static is False  # in review
    version = a.version
    reviews.approve(ADMIN, vr.id, version=vr.version)
    for n in (a, b):
        n = _number(n.id)
        assert (n.awaiting_registration, n.registration_deadline_at, n.status) == (False, None, "not_configured")
        assert n.verification_request_id == vr.id and n.version == version + 1
        assert _actions(n.id) == ["number.registration_approved"]
    req = db.session.get(VerificationRequest, vr.id)
    assert req.status == "approved" and req.decided_at == clock.now()
    note = db.session.scalars(sa.select(Notification)).one()
    assert note.kind == "verification_approved" and note.count == 2
    assert note.message == f"Verification {vr.reference} was approved: 2 numbers are ready for configuration."


def test_approve_is_one_transaction_a_failure_changes_nothing(ctx, monkeypatch):
    vr = make_verification_request()
    a = _awaiting(vr)

    def broken(*args, **kw):
        raise RuntimeError("boom")
    monkeypatch.setattr(reviews, "notify", broken)
    with pytest.raises(RuntimeError):
        reviews.approve(ADMIN, vr.id, version=vr.version)
    n = _number(a.id)
    assert n.awaiting_registration and n.status == "awaiting_registration" and _actions(a.id) == []
    assert db.session.get(VerificationRequest, vr.id).status == "pending"


def test_only_a_pending_request_is_decided_and_a_stale_version_conflicts(ctx):
    vr = make_verification_request()
    with pytest.raises(Conflict):
        reviews.approve(ADMIN, vr.id, version=vr.version + 1)
    reviews.approve(ADMIN, vr.id, version=vr.version)
    with pytest.raises(DomainError, match="Only a request in review can be rejected"):
        reviews.reject(ADMIN, vr.id, version=None, reason_ids=[_reason("Name")])
    with pytest.raises(DomainError, match="does not exist"):
        reviews.approve(ADMIN, 9999, version=1)


def test_reject_needs_a_reason_and_other_needs_a_comment(ctx):
    vr = make_verification_request()
    for ids, comment, field, message in (
            ([], None, "reasons", "Choose at least one reason."),
            ([9999], None, "reasons", "Choose reasons from the list."),
            ([_reason("Other")], "  ", "comment", "Enter a comment: it is required for \u201cOther (see comment)\u201d."),
            ([_reason("Name")], "x" * 2001, "comment", "Comment must be at most 2,000 characters.")):
        with pytest.raises(DomainError) as err:
            reviews.reject(ADMIN, vr.id, version=vr.version, reason_ids=ids, comment=comment)
        assert (err.value.field, err.value.message) == (field, message)
    assert db.session.get(VerificationRequest, vr.id).status == "pending"
    reviews.reject(ADMIN, vr.id, version=vr.version, reason_ids=[_reason("Other"), _reason("Name")],
                   comment=" Blurry scan ")
    req = db.session.get(VerificationRequest, vr.id)
    assert req.status == "rejected" and req.reject_comment == "Blurry scan"
    assert req.reject_reasons == ["Name does not match the proof", "Other (see comment)"]  # the list's order


def test_reject_extends_each_deadline_to_at_least_rejected_at_plus_grace(ctx):
    vr = make_verification_request()
    soon, late = _awaiting(vr, deadline_days=2), _awaiting(vr, deadline_days=20)
    other = _awaiting(make_verification_request(), deadline_days=1)
    reviews.reject(ADMIN, vr.id, version=vr.version, reason_ids=[_reason("Proof of address")])
    now = clock.now()
    assert _number(soon.id).registration_deadline_at == now + timedelta(days=7)  # max(now+2d, now+7d)
    assert _number(late.id).registration_deadline_at == now + timedelta(days=20)  # already later: kept
    assert _number(other.id).registration_deadline_at == now + timedelta(days=1)  # not linked
    n = _number(soon.id)
    assert n.awaiting_registration and n.verification_request_id == vr.id and n.attention_static is True
    assert _actions(soon.id) == ["number.registration_rejected"]
    note = db.session.scalars(sa.select(Notification)).one()
    assert note.kind == "verification_rejected"
    assert note.message == f"Verification {vr.reference} was rejected: Proof of address is too old."


def test_the_grace_days_come_from_the_workspace_settings(ctx):
    db.session.add(Workspace(resubmit_grace_days=3))
    db.session.commit()
    vr = make_verification_request()
    n = _awaiting(vr, deadline_days=1)
    reviews.reject(ADMIN, vr.id, version=vr.version, reason_ids=[_reason("Name")])
    assert _number(n.id).registration_deadline_at == clock.now() + timedelta(days=3)


def test_state_machine_rows_6_and_7(ctx):
    """Row 7: AWAITING → AWAITING, deadline extended; then (resubmitted) row 6: AWAITING → LIVE."""
    vr = make_verification_request()
    n = _awaiting(vr, deadline_days=1)
    reviews.reject(ADMIN, vr.id, version=vr.version, reason_ids=[_reason("Name")])
    assert _number(n.id).status == "awaiting_registration"
    req = db.session.get(VerificationRequest, vr.id)
    req.status = "pending"  # what a resubmit does (another helper's flow)
    db.session.commit()
    reviews.approve(ADMIN, vr.id, version=req.version)
    assert _number(n.id).status == "not_configured"
    assert _actions(n.id) == ["number.registration_rejected", "number.registration_approved"]
    kinds = db.session.scalars(sa.select(Notification.kind).order_by(Notification.id)).all()
    assert kinds == ["verification_rejected", "verification_approved"]


def test_withdraw_unlinks_the_numbers_and_deletes_the_request(ctx):
    vr = make_verification_request()
    n = _awaiting(vr)
    ref = reviews.withdraw(ADMIN, vr.id, version=vr.version)
    assert ref == vr.reference and db.session.get(VerificationRequest, vr.id) is None
    n = _number(n.id)
    assert (n.verification_request_id, n.identity_id, n.awaiting_registration) == (None, None, True)
    assert n.attention_static is True  # "missing" needs attention again
    assert _actions(n.id) == ["number.details_withdrawn"]
    assert db.session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "verification_request", AuditEvent.object_id == vr.id)) == "verification.withdrawn"


def test_withdraw_refuses_a_decided_request(ctx):
    vr = make_verification_request(status="approved")
    with pytest.raises(DomainError, match="can be withdrawn"):
        reviews.withdraw(ADMIN, vr.id, version=vr.version)


def test_reject_reasons_are_added_renamed_and_retired(ctx):
    reason = reviews.create_reason(ADMIN, text="Photo is expired", needs_comment=False)
    with pytest.raises(DomainError, match="exists already"):
        reviews.create_reason(ADMIN, text="photo is EXPIRED")
    with pytest.raises(DomainError, match="1–255"):
        reviews.create_reason(ADMIN, text="  ")
    reviews.update_reason(ADMIN, reason.id, text="Photo ID expired", needs_comment=True, retired=True)
    row = db.session.get(RejectReason, reason.id)
    assert (row.text, row.needs_comment, row.retired) == ("Photo ID expired", True, True)
    vr = make_verification_request(identity=make_identity())
    with pytest.raises(DomainError, match="Choose reasons from the list"):  # retired ones can't be chosen
        reviews.reject(ADMIN, vr.id, version=vr.version, reason_ids=[reason.id])
