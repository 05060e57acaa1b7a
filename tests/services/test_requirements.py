"""Registration requirements (registration.md §2): the lookup order, every rule with its message,
the unique pair, the (*, *) row that can't be deleted, stale edits and the audit rows."""
import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import AuditEvent, ProofType, Requirement
from did_app.object_checks import InUse
from did_app.registration import service as svc
from did_app.registration.requirements import registration_required, requirement_for, requirement_table

CLI = Actor(None, "cli", "cli")
RULES = dict(registration_required=True, identity_type="any", address_area="country",
             personal_proofs=1, business_proofs=1, address_proofs=1)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _new(country="DE", number_type="local", **kw):
    return svc.create_requirement(CLI, country=country, number_type=number_type, **{**RULES, **kw})


def _refusal(call) -> tuple[str | None, str]:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.field, err.value.message


def _fallback() -> Requirement:
    return db.session.scalars(sa.select(Requirement).where(Requirement.country == "*",
                                                            Requirement.number_type == "*")).one()


def test_lookup_takes_the_first_row_that_exists(ctx):
    assert (requirement_for("DE", "local").country, requirement_for("DE", "local").number_type) == ("*", "*")
    assert requirement_for("DE", "toll_free").number_type == "toll_free"  # (*, type) before (*, *)
    _new(country="DE", number_type="*", registration_required=False)
    assert (requirement_for("DE", "toll_free").country, requirement_for("DE", "toll_free").number_type) == ("DE", "*")
    _new()
    assert (requirement_for("DE", "local").country, requirement_for("DE", "local").number_type) == ("DE", "local")
    table = requirement_table()
    assert registration_required(table, "DE", "local") is True
    assert registration_required(table, "DE", "mobile") is False  # (DE, *)
    assert registration_required(table, "FR", "local") is False  # (*, *)


def test_create_stores_every_field_and_audits(ctx):
    passport = db.session.scalar(sa.select(ProofType.id).where(ProofType.name == "Passport"))
    req = _new(personal_proofs=2, address_area="city", identity_type="personal",
               personal_mandatory_fields=["contact_email", "birth_date"], business_mandatory_fields=["vat_id"],
               accepted_proof_types={"personal": [passport], "business": []}, service_description_required=True,
               restriction_message="  Numbers may not be used for call centres  ")
    assert req.personal_mandatory_fields == ["birth_date", "contact_email"]  # the list's order
    assert req.accepted_proof_types == {"personal": [passport]}  # empty lists: any type
    assert req.restriction_message == "Numbers may not be used for call centres"
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "requirement.created")).one()
    assert event.object_label == "(DE, local)"
    assert event.after["accepted_proof_types"] == ["personal: Passport"]


@pytest.mark.parametrize("kw,field,message", [
    (dict(country="XX"), "country", svc.COUNTRY_MESSAGE),
    (dict(country=""), "country", svc.COUNTRY_MESSAGE),
    (dict(number_type="fax"), "number_type", svc.TYPE_MESSAGE),
    (dict(identity_type="robot"), "identity_type", "Choose any, personal or business."),
    (dict(address_area="moon"), "address_area", "Choose where the address must be from the list."),
    (dict(personal_proofs=6), "personal_proofs", "Enter 0–5 proofs."),
    (dict(business_proofs=-1), "business_proofs", "Enter 0–5 proofs."),
    (dict(address_proofs=None), "address_proofs", "Enter 0–5 proofs."),
    (dict(personal_mandatory_fields=["vat_id"]), "personal_mandatory_fields",
     "Choose personal mandatory fields from the list."),
    (dict(business_mandatory_fields=["birth_date"]), "business_mandatory_fields",
     "Choose business mandatory fields from the list."),
    (dict(restriction_message="x" * 1001), "restriction_message",
     "Restriction message must be at most 1,000 characters."),
    (dict(accepted_proof_types={"address": [999]}), "address_proof_types", "Choose address proof types from the list."),
])
def test_each_rule_refuses_with_its_message_and_writes_nothing(ctx, kw, field, message):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Requirement))
    assert _refusal(lambda: _new(**kw)) == (field, message)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Requirement)) == before


def test_a_proof_type_of_another_entity_is_refused(ctx):
    passport = db.session.scalar(sa.select(ProofType.id).where(ProofType.name == "Passport"))
    assert _refusal(lambda: _new(accepted_proof_types={"business": [passport]})) == (
        "business_proof_types", "Choose business proof types from the list.")


def test_the_pair_is_unique(ctx):
    _new(country="de")
    assert _refusal(lambda: _new()) == ("country", "A requirement for (DE, local) exists already.")
    assert _refusal(lambda: _new(country="*", number_type="*")) == (
        "country", "A requirement for (*, *) exists already.")


def test_update_changes_the_rules_audits_the_diff_and_refuses_a_stale_version(ctx):
    req = _new()
    updated = svc.update_requirement(CLI, req.id, version=req.version, **{**RULES, "personal_proofs": 3})
    assert updated.personal_proofs == 3 and updated.version == 2
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "requirement.updated")).one()
    assert (event.before, event.after) == ({"personal_proofs": 1}, {"personal_proofs": 3})
    with pytest.raises(Conflict):
        svc.update_requirement(CLI, req.id, version=1, **RULES)
    # no change: nothing written
    svc.update_requirement(CLI, req.id, version=2, **{**RULES, "personal_proofs": 3})
    assert db.session.get(Requirement, req.id).version == 2


def test_the_fallback_row_can_be_edited_but_not_deleted(ctx):
    row = _fallback()
    svc.update_requirement(CLI, row.id, version=row.version, **{**RULES, "registration_required": False,
                                                                  "address_proofs": 2})
    with pytest.raises(InUse) as err:
        svc.delete_requirement(CLI, row.id)
    assert err.value.message == "The (*, *) requirement is the fallback for every number: it can be edited but not deleted."
    assert _fallback().address_proofs == 2


def test_delete_removes_the_row_and_audits(ctx):
    req = _new()
    svc.delete_requirement(CLI, req.id)
    assert db.session.get(Requirement, req.id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "requirement.deleted")) == 1
