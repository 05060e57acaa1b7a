"""Proofs and proof types (registration.md §4, §7): every message, files checked by their first
bytes, the size limits, replacement by type, nothing on disk or in the database after a refusal,
files removed only after the deleting commit, delete protection, the review lock, audit rows."""
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db, write_transaction
from did_app.errors import DomainError
from did_app.models import AuditEvent, Proof, ProofFile, ProofType, VerificationRequest, VerificationRequestProof
from did_app.object_checks import InUse
from did_app.registration import identities, proof_store
from did_app.registration import proofs as svc
from tests.conftest import T0

CLI = Actor(None, "cli", "cli")
PERSON = dict(first_name="Ada", last_name="Lovelace", phone_number="030 1234567", country="DE")
ADDRESS = dict(street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
MB = 1024 * 1024


@pytest.fixture
def ctx(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
    with app.app_context():
        yield


@pytest.fixture
def people(ctx):
    ada = identities.create_identity(CLI, identity_type="personal", **PERSON)
    acme = identities.create_identity(CLI, identity_type="business", company_name="Acme GmbH", **PERSON)
    address = identities.create_address(CLI, acme.id, **ADDRESS)
    return dict(ada=ada.id, acme=acme.id, address=address.id)


def type_id(name: str) -> int:
    return db.session.scalar(sa.select(ProofType.id).where(ProofType.name == name))


def stored_files() -> list[Path]:
    root = proof_store.root()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def counts() -> tuple[int, int]:
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Proof)),
            db.session.scalar(sa.select(sa.func.count()).select_from(ProofFile)))


def passport(people, files=None, **kw) -> Proof:
    return svc.add_proof(CLI, "identity", people["ada"], type_id("Passport"), kw.get("expires_on"),
                         [("passport.pdf", PDF)] if files is None else files)


def _request(people, status: str, proof_ids: list[int]) -> str:
    with write_transaction() as session:
        vr = VerificationRequest(identity_id=people["acme"], address_id=people["address"], country="DE",
                                 number_type="local", status=status)
        session.add(vr)
        session.flush()
        vr.reference = f"VR-{vr.id:06d}"
        session.add_all(VerificationRequestProof(request_id=vr.id, proof_id=p) for p in proof_ids)
    return vr.reference


def test_a_proof_is_stored_under_year_and_month_with_its_original_name_in_the_database(people):
    proof = svc.add_proof(CLI, "identity", people["ada"], type_id("Passport"), date(2030, 1, 1),
                          [("scan.pdf", PDF), ("C:\\Users\\ada\\photo.png", PNG), ("face.jpeg", JPEG)])
    files = db.session.get(Proof, proof.id).files
    assert [(f.original_name, f.content_type, f.size_bytes) for f in files] == [
        ("scan.pdf", "application/pdf", len(PDF)), ("photo.png", "image/png", len(PNG)),
        ("face.jpeg", "image/jpeg", len(JPEG))]
    assert all(f.path.startswith(f"{T0:%Y}/{T0:%m}/") for f in files)
    assert [f.path.rsplit(".", 1)[1] for f in files] == ["pdf", "png", "jpg"]
    assert all("scan" not in f.path and "photo" not in f.path for f in files)
    assert proof_store.resolve(files[0].path).read_bytes() == PDF
    assert len(stored_files()) == 3
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "identity.proof_added")).one()
    assert event.object_id == people["ada"]
    assert event.after == {"type": "Passport", "expires_on": "2030-01-01",
                           "files": ["scan.pdf", "photo.png", "face.jpeg"]}


@pytest.mark.parametrize("files, message", [
    ([], "A proof holds 1–5 files."),
    ([("a.pdf", PDF)] * 6, "A proof holds 1–5 files."),
    ([("notes.pdf", b"just some text, not a PDF")], "Files must be PDF, PNG or JPEG."),
    ([("ok.pdf", PDF), ("evil.png", b"<svg onload=alert(1)>")], "Files must be PDF, PNG or JPEG."),
    ([("empty.pdf", b"")], "Files must be PDF, PNG or JPEG."),
    ([("big.pdf", PDF + b"\0" * (10 * MB))], "Each file must be 10 MB or smaller."),
    ([("a.pdf", PDF + b"\0" * (9 * MB))] * 3, "A proof's files must be 25 MB or smaller together."),
])
def test_file_refusals_store_nothing(people, files, message):
    with pytest.raises(DomainError) as err:
        passport(people, files)
    assert (err.value.field, err.value.message) == ("files", message)
    assert counts() == (0, 0) and stored_files() == []


def test_exactly_ten_mb_and_five_files_are_accepted(people):
    passport(people, [("big.pdf", PDF + b"\0" * (10 * MB - len(PDF)))])
    passport(people, [("a.png", PNG)] * 5)


def test_type_must_match_the_entity_and_be_live(people):
    def refusal(entity, entity_id, type_name):
        with pytest.raises(DomainError) as err:
            svc.add_proof(CLI, entity, entity_id, type_id(type_name) if type_name else None, None, [("a.pdf", PDF)])
        return err.value.field, err.value.message

    assert refusal("identity", people["acme"], "Passport") == (
        "proof_type_id", "A Passport proves a personal identity; choose a business type.")
    assert refusal("identity", people["ada"], "VAT certificate") == (
        "proof_type_id", "A VAT certificate proves a business identity; choose a personal type.")
    assert refusal("address", people["address"], "Passport") == (
        "proof_type_id", "A Passport proves a personal identity; choose an address type.")
    assert refusal("identity", people["ada"], "Utility bill") == (
        "proof_type_id", "A Utility bill proves an address; choose a personal type.")
    assert refusal("identity", people["ada"], None) == ("proof_type_id", "Choose a proof type.")
    svc.set_proof_type_retired(CLI, type_id("Passport"), True)
    assert refusal("identity", people["ada"], "Passport") == ("proof_type_id", svc.TYPE_RETIRED)
    assert counts() == (0, 0) and stored_files() == []


def test_missing_entity_and_past_expiry_are_refused(people):
    with pytest.raises(DomainError, match="That identity does not exist."):
        svc.add_proof(CLI, "identity", 999, type_id("Passport"), None, [("a.pdf", PDF)])
    with pytest.raises(DomainError, match="That address does not exist."):
        svc.add_proof(CLI, "address", 999, type_id("Utility bill"), None, [("a.pdf", PDF)])
    with pytest.raises(DomainError) as err:
        passport(people, expires_on=T0.date() - timedelta(days=1))
    assert (err.value.field, err.value.message) == ("expires_on", svc.EXPIRED_MESSAGE)
    passport(people, expires_on=T0.date())  # expires at the end of today
    assert counts() == (1, 1)


def test_the_review_lock_refuses_proofs_and_stores_nothing(people):
    bill = svc.add_proof(CLI, "address", people["address"], type_id("Utility bill"), None, [("b.pdf", PDF)])
    reference = _request(people, "pending", [])
    message = f"In review ({reference}). Wait for the decision or for a rejection to edit."
    for entity, entity_id, name in (("identity", people["acme"], "VAT certificate"),
                                    ("address", people["address"], "Bank statement")):
        with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")):
            svc.add_proof(CLI, entity, entity_id, type_id(name), None, [("a.pdf", PDF)])
    with pytest.raises(DomainError, match="In review"):
        svc.update_expiry(CLI, bill.id, date(2031, 1, 1))
    assert counts() == (1, 1) and len(stored_files()) == 1


def test_a_failure_after_the_files_are_written_removes_them(people, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(svc, "_record", broken)
    with pytest.raises(RuntimeError):
        passport(people, [("a.pdf", PDF), ("b.png", PNG)])
    assert counts() == (0, 0) and stored_files() == []


def test_a_new_proof_of_the_same_type_replaces_an_unreferenced_one(people):
    old = passport(people, [("old.pdf", PDF)])
    old_path = proof_store.resolve(old.files[0].path)
    other = svc.add_proof(CLI, "identity", people["ada"], type_id("Driving licence"), None, [("dl.png", PNG)])
    new = passport(people, [("new.pdf", PDF)])
    ids = set(db.session.scalars(sa.select(Proof.id)))
    assert ids == {other.id, new.id}
    assert not old_path.exists() and len(stored_files()) == 2
    note = db.session.scalar(sa.select(AuditEvent.note).where(AuditEvent.action == "identity.proof_added")
                             .order_by(AuditEvent.id.desc()).limit(1))
    assert note == "Replaces the earlier Passport (deleted)."


def test_a_replaced_proof_a_request_references_is_kept(people):
    old = svc.add_proof(CLI, "address", people["address"], type_id("Utility bill"), None, [("old.pdf", PDF)])
    _request(people, "rejected", [old.id])
    new = svc.add_proof(CLI, "address", people["address"], type_id("Utility bill"), None, [("new.pdf", PDF)])
    assert set(db.session.scalars(sa.select(Proof.id))) == {old.id, new.id}
    assert len(stored_files()) == 2


def test_delete_is_refused_while_the_proof_backs_a_pending_or_approved_request(people):
    bill = svc.add_proof(CLI, "address", people["address"], type_id("Utility bill"), None, [("b.pdf", PDF)])
    reference = _request(people, "approved", [bill.id])
    with pytest.raises(InUse) as err:
        svc.delete_proof(CLI, bill.id)
    assert err.value.message == f"This proof backs verification {reference}."
    assert counts() == (1, 1) and len(stored_files()) == 1


def test_delete_of_a_proof_a_rejected_request_used_unlinks_it(people):
    bill = svc.add_proof(CLI, "address", people["address"], type_id("Utility bill"), None, [("b.pdf", PDF)])
    _request(people, "rejected", [bill.id])
    owner = svc.delete_proof(CLI, bill.id)
    assert (owner.entity, owner.id) == ("address", people["address"])
    assert counts() == (0, 0) and stored_files() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VerificationRequestProof)) == 0
    assert db.session.scalar(sa.select(AuditEvent.before).where(AuditEvent.action == "address.proof_deleted")) == {
        "type": "Utility bill", "expires_on": None, "files": ["b.pdf"]}


def test_files_leave_the_disk_only_after_the_deleting_commit(people, monkeypatch):
    proof = passport(people, [("a.pdf", PDF)])
    path = proof_store.resolve(proof.files[0].path)
    seen = {}
    real_record = svc._record

    def record_then_fail(*args, **kwargs):
        real_record(*args, **kwargs)
        seen["exists_before_commit"] = path.exists()
        raise RuntimeError("the commit never happens")
    monkeypatch.setattr(svc, "_record", record_then_fail)
    with pytest.raises(RuntimeError):
        svc.delete_proof(CLI, proof.id)
    assert seen == {"exists_before_commit": True}
    assert path.exists() and counts() == (1, 1)  # rolled back: row and file both stay
    monkeypatch.setattr(svc, "_record", real_record)
    svc.delete_proof(CLI, proof.id)
    assert not path.exists() and counts() == (0, 0)


def test_update_expiry_is_audited(people):
    proof = passport(people)
    svc.update_expiry(CLI, proof.id, date(2031, 5, 1))
    assert db.session.get(Proof, proof.id).expires_on == date(2031, 5, 1)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "identity.proof_updated")).one()
    assert (event.before, event.after) == ({"type": "Passport", "expires_on": None}, {"expires_on": "2031-05-01"})
    with pytest.raises(DomainError, match="That proof does not exist."):
        svc.update_expiry(CLI, 999, None)


def test_proof_types_are_added_renamed_retired_and_unretired(ctx):
    created = svc.create_proof_type(CLI, "address", "  Tax bill ")
    assert (created.entity, created.name, created.retired) == ("address", "Tax bill", False)
    with pytest.raises(DomainError) as err:
        svc.create_proof_type(CLI, "address", "utility BILL")
    assert (err.value.field, err.value.message) == ("name", "Address proofs have a type named utility BILL already.")
    svc.create_proof_type(CLI, "personal", "Tax bill")  # another entity may use the name
    with pytest.raises(DomainError, match="Name must be 1–100 characters."):
        svc.create_proof_type(CLI, "personal", " ")
    with pytest.raises(DomainError, match="Choose personal, business or address."):
        svc.create_proof_type(CLI, "vehicle", "Logbook")
    svc.rename_proof_type(CLI, created.id, "Council tax bill")
    with pytest.raises(DomainError, match="Address proofs have a type named Bank statement already."):
        svc.rename_proof_type(CLI, created.id, "Bank statement")
    svc.set_proof_type_retired(CLI, created.id, True)
    assert db.session.get(ProofType, created.id).retired is True
    svc.set_proof_type_retired(CLI, created.id, False)
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "proof_type",
                                                                    AuditEvent.object_id == created.id)
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["proof_type.created", "proof_type.renamed", "proof_type.retired", "proof_type.unretired"]
    with pytest.raises(DomainError, match="That proof type does not exist."):
        svc.rename_proof_type(CLI, 999, "x")
