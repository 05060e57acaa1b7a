"""Identities and addresses (registration.md §3, §7): every field rule with its message, the derived
verified state, the review lock, delete protection, stale edits and the audit rows."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.audit import Actor
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import Address, AuditEvent, Identity, VerificationRequest
from did_app.object_checks import InUse
from did_app.registration import identities as svc
from did_app.registration import queries

CLI = Actor(None, "cli", "cli")
PERSON = dict(first_name="Ada", last_name="Lovelace", phone_number="030 1234567", country="DE")
BUSINESS = dict(PERSON, company_name="Acme GmbH")
ADDRESS = dict(street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _refusal(call) -> tuple[str | None, str]:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.field, err.value.message


def _request(identity, address, status) -> VerificationRequest:
    with db.session.begin_nested():
        vr = VerificationRequest(identity_id=identity.id, address_id=address.id, country="DE",
                                 number_type="local", status=status)
        db.session.add(vr)
        db.session.flush()
        vr.reference = f"VR-{vr.id:06d}"
    db.session.commit()
    return vr


def test_create_parses_the_phone_to_e164_and_audits(ctx):
    identity = svc.create_identity(CLI, identity_type="business", **BUSINESS)
    assert identity.phone_number == "+49301234567"
    assert identity.display_name == "Acme GmbH"
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.object_type == "identity",
                                                                 AuditEvent.object_id == identity.id)) == "identity.created"


@pytest.mark.parametrize("kind, values, field, message", [
    ("personal", dict(PERSON, company_name="Acme"), "company_name", "Only business identities have a company name."),
    ("personal", dict(PERSON, first_name=""), "first_name", "Enter the first name."),
    ("personal", dict(PERSON, last_name="x" * 101), "last_name", "Last name must be at most 100 characters."),
    ("personal", dict(PERSON, phone_number="12"), "phone_number", svc.PHONE_MESSAGE),
    ("personal", dict(PERSON, country="XX"), "country", svc.COUNTRY_MESSAGE),
    ("personal", dict(PERSON, id_number="x" * 51), "id_number", "ID number must be at most 50 characters."),
    ("personal", dict(PERSON, contact_email="nope"), "contact_email", svc.EMAIL_MESSAGE),
    ("personal", dict(PERSON, description="x" * 256), "description", "Description must be at most 255 characters."),
    ("personal", dict(PERSON, external_reference="x" * 101), "external_reference",
     "External reference must be at most 100 characters."),
    ("personal", dict(PERSON, vat_id="DE1"), "vat_id", "Only business identities have a VAT ID."),
    ("business", dict(PERSON), "company_name", "Enter the company name."),
    ("business", dict(BUSINESS, vat_id="x" * 51), "vat_id", "VAT ID must be at most 50 characters."),
    ("business", dict(BUSINESS, birth_country="DE"), "birth_country", "Only personal identities have a Birth country."),
])
def test_every_field_rule_has_its_message(ctx, kind, values, field, message):
    assert _refusal(lambda: svc.create_identity(CLI, identity_type=kind, **values)) == (field, message)


def test_birth_date_must_be_in_the_past(ctx):
    today = clock.now().date()
    assert _refusal(lambda: svc.create_identity(CLI, identity_type="personal", birth_date=today, **PERSON)) == (
        "birth_date", "The birth date must be in the past.")
    ok = svc.create_identity(CLI, identity_type="personal", birth_date=today - timedelta(days=1), **PERSON)
    assert ok.birth_date == today - timedelta(days=1)


def test_type_is_fixed_and_stale_edits_conflict(ctx):
    identity = svc.create_identity(CLI, identity_type="personal", **PERSON)
    updated = svc.update_identity(CLI, identity.id, version=identity.version, identity_type="business",
                                  **dict(PERSON, first_name="Grace"))
    assert (updated.identity_type, updated.first_name) == ("personal", "Grace")
    with pytest.raises(Conflict):
        svc.update_identity(CLI, identity.id, version=1, **PERSON)


def test_verified_is_derived_and_review_locks_edits(ctx):
    identity = svc.create_identity(CLI, identity_type="personal", **PERSON)
    address = svc.create_address(CLI, identity.id, **ADDRESS)
    assert not queries.is_verified(identity.id)
    vr = _request(identity, address, "pending")
    lock = f"In review ({vr.reference}). Wait for the decision or for a rejection to edit."
    assert _refusal(lambda: svc.update_identity(CLI, identity.id, version=None, **PERSON)) == (None, lock)
    assert _refusal(lambda: svc.update_address(CLI, address.id, version=None, **ADDRESS)) == (None, lock)
    vr.status = "approved"
    db.session.commit()
    assert queries.is_verified(identity.id)
    assert queries.identities(verified="yes")[0][0][0].id == identity.id
    svc.update_identity(CLI, identity.id, version=None, **dict(PERSON, first_name="Grace"))  # allowed, logged


def test_delete_protection(ctx):
    identity = svc.create_identity(CLI, identity_type="business", **BUSINESS)
    address = svc.create_address(CLI, identity.id, **ADDRESS)
    vr = _request(identity, address, "rejected")
    with pytest.raises(InUse) as err:
        svc.delete_identity(CLI, identity.id)
    assert err.value.message == "Identity Acme GmbH is used by 0 numbers and 1 verification request."
    assert _refusal(lambda: svc.delete_address(CLI, address.id)) == (None, f"This address is used by verification {vr.reference}.")


def test_an_unused_identity_goes_with_its_addresses(ctx):
    identity = svc.create_identity(CLI, identity_type="personal", **PERSON)
    svc.create_address(CLI, identity.id, **ADDRESS)
    svc.delete_identity(CLI, identity.id)
    assert db.session.get(Identity, identity.id) is None
    assert not db.session.scalars(sa.select(Address).where(Address.identity_id == identity.id)).all()


@pytest.mark.parametrize("values, field, message", [
    (dict(ADDRESS, street=""), "street", "Enter the street."),
    (dict(ADDRESS, street="x" * 201), "street", "Street must be at most 200 characters."),
    (dict(ADDRESS, city=""), "city", "Enter the city."),
    (dict(ADDRESS, postal_code="x" * 21), "postal_code", "Postal code must be at most 20 characters."),
    (dict(ADDRESS, region="x" * 101), "region", "Region must be at most 100 characters."),
    (dict(ADDRESS, country=""), "country", svc.COUNTRY_MESSAGE),
    (dict(ADDRESS, description="x" * 256), "description", "Description must be at most 255 characters."),
])
def test_every_address_rule_has_its_message(ctx, values, field, message):
    identity = svc.create_identity(CLI, identity_type="personal", **PERSON)
    assert _refusal(lambda: svc.create_address(CLI, identity.id, **values)) == (field, message)


def test_search_finds_by_name_company_email_and_reference(ctx):
    svc.create_identity(CLI, identity_type="business", **dict(BUSINESS, contact_email="ops@acme.example",
                                                               external_reference="CUST-77"))
    for q in ("acme", "ops@acme", "cust-77", "ada love"):
        assert [i.company_name for i, _ in queries.identities(q=q)[0]] == ["Acme GmbH"], q
