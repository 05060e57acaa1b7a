"""Assign end-user details and resubmit (registration.md §5): eligibility and its messages, one
country and type per request, every checklist message through the service, one request for N
numbers with its history, resubmit's rules and count, and a rejected request losing its number."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import (
    AuditEvent,
    Number,
    Proof,
    ProofType,
    Requirement,
    VerificationRequest,
    VerificationRequestProof,
)
from did_app.registration import assignments as svc
from did_app.registration import identities
from tests.factories import make_number

CLI = Actor(None, "cli", "cli")
PERSON = dict(first_name="Ada", last_name="Lovelace", phone_number="030 1234567", country="DE")
ADDRESS = dict(street="Hauptstr. 1", city="Berlin", postal_code="10115", region="Berlin", country="DE")
T0_DAY = date(2026, 11, 28)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def awaiting(number: str, **kw) -> Number:
    values = dict(number=number, country="DE", region="Berlin", city="Berlin", number_type="local",
                  needs_registration=True, awaiting_registration=True)
    return make_number(**{**values, **kw})


def proof(entity: str, *, identity=None, address=None, name=None, expires_on=None) -> Proof:
    type_id = db.session.scalar(sa.select(ProofType.id).where(ProofType.entity == entity, *(
        [ProofType.name == name] if name else [])).order_by(ProofType.id).limit(1))
    row = Proof(identity_id=identity.id if identity else None, address_id=address.id if address else None,
                proof_type_id=type_id, expires_on=expires_on)
    db.session.add(row)
    db.session.commit()
    return row


def ready_identity(kind="personal", address_values=None):
    """An identity and an address with one valid proof each: the seeded (*, *) row passes."""
    values = dict(PERSON, company_name="Acme GmbH") if kind == "business" else PERSON
    identity = identities.create_identity(CLI, identity_type=kind, **values)
    address = identities.create_address(CLI, identity.id, **(address_values or ADDRESS))
    proof(kind, identity=identity)
    proof("address", address=address)
    return identity, address


def submit(numbers, identity, address, description=None):
    return svc.submit(CLI, numbers, identity_id=identity.id, address_id=address.id,
                      service_description=description)


def refusal(call) -> tuple[str | None, str]:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.field, err.value.message


def problems(call) -> list[tuple[str, str]]:
    with pytest.raises(svc.ChecklistFailed) as err:
        call()
    return err.value.problems


def rule(country="DE", number_type="local", **kw) -> Requirement:
    row = Requirement(country=country, number_type=number_type, registration_required=True, **kw)
    db.session.add(row)
    db.session.commit()
    return row


# ---- eligibility --------------------------------------------------------------------------

def test_eligibility_skips_with_the_specs_messages(ctx):
    identity, address = ready_identity()
    awaiting("+4930100001")
    awaiting("+4930100002")
    make_number(number="+14155550001")  # live, not awaiting
    vr, _ = submit(["+4930100002"], identity, address)
    elig = svc.eligibility(["+4930100001", "+4930100002", "+14155550001", "+4930100001", "nonsense\x00"])
    assert [c.number for c in elig.eligible] == ["+4930100001"]
    assert [(s.number, s.message) for s in elig.skipped] == [
        ("+4930100002", f"Already in review ({vr.reference}).".format()),
        ("+14155550001", "Not awaiting registration."),
        ("nonsense", "Not in the inventory.")]
    assert elig.ok and (elig.country, elig.number_type) == ("DE", "local")


def test_one_request_covers_one_country_and_type(ctx):
    identity, address = ready_identity()
    awaiting("+4930100001")
    awaiting("+4930100002", number_type="mobile")
    awaiting("+33100000001", country="FR")
    elig = svc.eligibility(["+4930100001", "+4930100002", "+33100000001"])
    assert not elig.ok
    message = "One request covers one country and number type; this selection has 3. Filter to one first."
    assert elig.refusal == message
    assert refusal(lambda: submit(["+4930100001", "+4930100002", "+33100000001"], identity, address)) == (
        None, message)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VerificationRequest)) == 0


def test_eligibility_reads_in_a_fixed_number_of_statements(app, ctx):
    for i in range(30):
        awaiting(f"+49301000{i:02d}")
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    svc.eligibility([f"+49301000{i:02d}" for i in range(30)])
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_nothing_eligible_is_refused(ctx):
    identity, address = ready_identity()
    make_number(number="+14155550001")
    assert refusal(lambda: submit(["+14155550001"], identity, address)) == (None, svc.NOTHING_ELIGIBLE)


# ---- the checklist through the service ------------------------------------------------------

def test_submit_creates_one_request_for_n_numbers_with_history(ctx):
    identity, address = ready_identity()
    numbers = [awaiting(f"+4930200{i:03d}") for i in range(5)]
    versions = {n.id: n.version for n in numbers}
    vr, assigned = submit([n.number for n in numbers], identity, address)
    assert vr.reference == f"VR-{vr.id:06d}" and vr.status == "pending" and vr.submission_count == 1
    assert len(assigned) == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VerificationRequest)) == 1
    db.session.expire_all()
    for n in db.session.scalars(sa.select(Number).where(Number.id.in_(versions))):
        assert (n.identity_id, n.verification_request_id) == (identity.id, vr.id)
        assert n.version == versions[n.id] + 1
        assert n.attention_static is False and n.status == "awaiting_registration"
    rows = db.session.execute(sa.select(AuditEvent.object_id, AuditEvent.after).where(
        AuditEvent.action == "number.details_assigned")).all()
    assert {r.object_id for r in rows} == set(versions)
    assert rows[0].after == {"identity": "Ada Lovelace", "verification": vr.reference}
    assert db.session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "verification_request", AuditEvent.object_id == vr.id)) == "verification.submitted"
    linked = db.session.scalars(sa.select(VerificationRequestProof.proof_id).where(
        VerificationRequestProof.request_id == vr.id)).all()
    assert len(linked) == 2


def test_identity_type_and_mandatory_fields(ctx):
    rule(identity_type="business", business_mandatory_fields=["vat_id"])
    awaiting("+4930100001")
    identity, address = ready_identity("personal")
    assert problems(lambda: submit(["+4930100001"], identity, address)) == [
        ("identity_id", "Identity must be business.")]
    business, baddress = ready_identity("business")
    assert problems(lambda: submit(["+4930100001"], business, baddress)) == [
        ("identity_id", "Missing mandatory field: vat id.")]


def test_address_area_messages(ctx):
    rule(address_area="city")
    awaiting("+4930100001", city="Berlin")
    identity, address = ready_identity(address_values=dict(ADDRESS, city="Munich"))
    assert problems(lambda: submit(["+4930100001"], identity, address)) == [
        ("address_id", "Address must be in Berlin, Germany.")]
    other = identities.create_address(CLI, identity.id, **dict(ADDRESS, country="FR"))
    proof("address", address=other)
    assert problems(lambda: submit(["+4930100001"], identity, other)) == [
        ("address_id", "Address must be in Berlin, Germany.")]


def test_country_area_message(ctx):
    awaiting("+4930100001")
    identity, _ = ready_identity()
    french = identities.create_address(CLI, identity.id, **dict(ADDRESS, country="FR"))
    proof("address", address=french)
    assert problems(lambda: submit(["+4930100001"], identity, french)) == [
        ("address_id", "Address must be in Germany.")]


def test_proofs_needed_count_only_unexpired_distinct_types(ctx):
    rule(personal_proofs=2, address_proofs=1)
    awaiting("+4930100001")
    identity = identities.create_identity(CLI, identity_type="personal", **PERSON)
    address = identities.create_address(CLI, identity.id, **ADDRESS)
    proof("personal", identity=identity, name="Passport")
    proof("personal", identity=identity, name="Driving licence", expires_on=T0_DAY - timedelta(days=1))
    assert problems(lambda: submit(["+4930100001"], identity, address)) == [
        ("identity_id", "Needs 2 personal proofs; 1 valid on file."),
        ("address_id", "Needs 1 address proof; 0 valid on file.")]


def test_service_description_required_and_limited(ctx):
    rule(service_description_required=True)
    awaiting("+4930100001")
    identity, address = ready_identity()
    assert problems(lambda: submit(["+4930100001"], identity, address)) == [
        ("service_description", "Service description required.")]
    assert refusal(lambda: submit(["+4930100001"], identity, address, "x" * 1001)) == (
        "service_description", svc.DESCRIPTION_TOO_LONG)
    vr, _ = submit(["+4930100001"], identity, address, "Customer support line")
    assert vr.service_description == "Customer support line"


def test_address_must_belong_to_the_identity(ctx):
    awaiting("+4930100001")
    identity, _ = ready_identity()
    _, stranger = ready_identity()
    assert refusal(lambda: submit(["+4930100001"], identity, stranger)) == (
        "address_id", "Choose an address of Ada Lovelace.")


# ---- a rejected request and resubmit ---------------------------------------------------------

def reject(vr, reasons=("Proof of address is too old",), comment=None):
    row = db.session.get(VerificationRequest, vr.id)
    row.status, row.reject_reasons, row.reject_comment = "rejected", list(reasons), comment
    db.session.commit()
    return row


def test_a_new_assignment_takes_the_number_from_a_rejected_request(ctx):
    identity, address = ready_identity()
    awaiting("+4930100001")
    awaiting("+4930100002")
    first, _ = submit(["+4930100001", "+4930100002"], identity, address)
    reject(first)
    second, _ = submit(["+4930100001"], identity, address)
    db.session.expire_all()
    links = dict(db.session.execute(sa.select(Number.number, Number.verification_request_id)).all())
    assert links == {"+4930100001": second.id, "+4930100002": first.id}
    before = db.session.scalar(sa.select(AuditEvent.before).where(
        AuditEvent.action == "number.details_assigned", AuditEvent.after["verification"].as_string() == second.reference))
    assert before == {"verification": first.reference}
    assert db.session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "verification_request", AuditEvent.object_id == first.id,
        AuditEvent.action == "verification.numbers_removed")) is not None


def test_resubmit_keeps_the_reference_counts_and_keeps_the_rejection(ctx):
    identity, address = ready_identity()
    awaiting("+4930100001")
    vr, _ = submit(["+4930100001"], identity, address)
    rejected = reject(vr, ["Other (see comment)"], "Blurry scan")
    other = identities.create_address(CLI, identity.id, **dict(ADDRESS, street="Nebenstr. 2"))
    proof("address", address=other)
    again, numbers = svc.resubmit(CLI, vr.id, address_id=other.id, service_description=None,
                                  version=rejected.version)
    assert (again.reference, again.status, again.submission_count, again.address_id) == (
        vr.reference, "pending", 2, other.id)
    assert again.reject_reasons == [] and again.reject_comment is None and numbers == ["+4930100001"]
    history = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "verification.resubmitted"))
    assert history.before["reject_reasons"] == ["Other (see comment)"]
    assert history.before["reject_comment"] == "Blurry scan"
    assert db.session.scalar(sa.select(Number.attention_static).where(Number.number == "+4930100001")) is False


def test_resubmit_only_while_numbers_await(ctx):
    identity, address = ready_identity()
    awaiting("+4930100001")
    awaiting("+4930100002")
    vr, _ = submit(["+4930100001", "+4930100002"], identity, address)
    assert refusal(lambda: svc.resubmit(CLI, vr.id, address_id=address.id, service_description=None,
                                        version=None))[1] == "Only a rejected request can be resubmitted."
    reject(vr)
    db.session.execute(sa.update(Number).where(Number.number == "+4930100002").values(awaiting_registration=False))
    db.session.commit()
    again, numbers = svc.resubmit(CLI, vr.id, address_id=address.id, service_description=None, version=None)
    assert numbers == ["+4930100001"]
    assert db.session.scalar(sa.select(Number.verification_request_id).where(Number.number == "+4930100002")) is None
    reject(again)
    db.session.execute(sa.update(Number).values(awaiting_registration=False))
    db.session.commit()
    assert refusal(lambda: svc.resubmit(CLI, vr.id, address_id=address.id, service_description=None,
                                        version=None)) == (None, svc.RESUBMIT_CLOSED)


def test_resubmit_runs_the_checklist_and_refuses_a_stale_version(ctx):
    identity, address = ready_identity()
    awaiting("+4930100001")
    vr, _ = submit(["+4930100001"], identity, address)
    rejected = reject(vr)
    bare = identities.create_address(CLI, identity.id, **dict(ADDRESS, street="Leer 3"))
    assert problems(lambda: svc.resubmit(CLI, vr.id, address_id=bare.id, service_description=None,
                                         version=rejected.version)) == [
        ("address_id", "Needs 1 address proof; 0 valid on file.")]
    with pytest.raises(Conflict):
        svc.resubmit(CLI, vr.id, address_id=address.id, service_description=None, version=rejected.version - 1)
    _, stranger = ready_identity()
    assert refusal(lambda: svc.resubmit(CLI, vr.id, address_id=stranger.id, service_description=None,
                                        version=None))[0] == "address_id"
