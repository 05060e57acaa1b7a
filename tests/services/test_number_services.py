"""Services that need approval (registration.md §6): every validation message, the feature each
kind needs, the identity rule, one row per number and kind, a change of an active CNAM going
back to pending, approve, reject and remove, and the number's history of each step."""
import pytest
import sqlalchemy as sa

from did_app.audit import Actor
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.models import Address, AuditEvent, Number, NumberService
from did_app.registration import number_services as svc
from tests.factories import make_identity, make_number

CLI = Actor(None, "cli", "cli")


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def world(ctx):
    ada = make_identity(first_name="Ada", last_name="Lovelace", country="US")
    bob = make_identity(first_name="Bob", last_name="Builder", country="US")
    home = Address(identity_id=ada.id, street="1 Main St", city="Springfield", postal_code="12345", country="US")
    abroad = Address(identity_id=ada.id, street="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
    bobs = Address(identity_id=bob.id, street="2 Side St", city="Springfield", postal_code="12345", country="US")
    db.session.add_all([home, abroad, bobs])
    db.session.commit()
    number = make_number(features=("voice_in", "cnam_out", "emergency"))
    plain = make_number(features=("voice_in",))
    return dict(ada=ada.id, bob=bob.id, home=home.id, abroad=abroad.id, bobs=bobs.id, number=number.id,
                plain=plain.id)


def _refusal(call) -> tuple[str | None, str]:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.field, err.value.message


def _history(number_id: int) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "number",
                                                          AuditEvent.object_id == number_id)
                              .order_by(AuditEvent.id)).all()


def _cnam(w, value="ACME CORP", **kw):
    return svc.request_service(CLI, kw.pop("number", w["number"]), "cnam_out", value=value,
                               identity_id=kw.pop("identity_id", w["ada"]), **kw)


def test_a_cnam_request_is_pending_with_history_and_bumps_the_number(world):
    w = world
    version = db.session.get(Number, w["number"]).version
    service = _cnam(w, value="  Acme, Inc. & Co  "[:17].strip(), version=version)
    assert (service.status, service.value, service.identity_id) == ("pending", "Acme, Inc. & Co", w["ada"])
    assert service.requested_at is not None and service.decided_at is None
    assert db.session.get(Number, w["number"]).version == version + 1
    [event] = _history(w["number"])
    assert event.action == "number.service_requested"
    assert event.after == {"CNAM OUT status": "pending", "CNAM OUT identity": "Ada Lovelace",
                           "CNAM OUT value": "Acme, Inc. & Co"}


@pytest.mark.parametrize("value", ["", "   ", "x" * 16, "ACME!", "Café", "ACME\tCORP", None])
def test_cnam_refuses_what_it_cannot_carry(world, value):
    assert _refusal(lambda: _cnam(world, value=value)) == ("value", svc.CNAM_MESSAGE)
    assert svc.CNAM_MESSAGE == "CNAM must be 1–15 letters, digits, spaces or . , - ' &."


@pytest.mark.parametrize("value", ["A", "x" * 15, "O'Brien-Smith", "A.B, C & D"])
def test_cnam_accepts_each_allowed_character(world, value):
    assert _cnam(world, value=value).value == value


def test_each_kind_needs_its_feature(world):
    w = world
    assert _refusal(lambda: _cnam(w, number=w["plain"])) == ("kind", "This number does not support CNAM OUT.")
    assert _refusal(lambda: svc.request_service(CLI, w["plain"], "emergency", identity_id=w["ada"],
                                                address_id=w["home"])) == (
        "kind", "This number does not support emergency calling.")
    assert _refusal(lambda: svc.request_service(CLI, w["number"], "sms", identity_id=w["ada"]))[0] == "kind"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberService)) == 0


def test_an_identity_is_needed(world):
    assert _refusal(lambda: _cnam(world, identity_id=None)) == ("identity_id", svc.IDENTITY_REQUIRED)
    assert _refusal(lambda: _cnam(world, identity_id=999_999)) == ("identity_id", svc.IDENTITY_REQUIRED)


def test_emergency_needs_an_address_of_the_identity_in_the_numbers_country(world):
    w = world

    def emergency(address_id, identity_id=w["ada"]):
        return svc.request_service(CLI, w["number"], "emergency", identity_id=identity_id, address_id=address_id)
    assert _refusal(lambda: emergency(None)) == ("address_id", svc.ADDRESS_REQUIRED)
    assert _refusal(lambda: emergency(w["bobs"])) == ("address_id", "Choose an address of Ada Lovelace.")
    assert _refusal(lambda: emergency(w["abroad"])) == ("address_id",
                                                         "The emergency address must be in United States.")
    service = emergency(w["home"])
    assert (service.status, service.address_id, service.value) == ("pending", w["home"], None)


def test_the_identity_rule_holds_when_the_number_has_a_registration_identity(world):
    w = world
    number = db.session.get(Number, w["number"])
    number.identity_id = w["bob"]
    db.session.commit()
    assert _refusal(lambda: _cnam(w, identity_id=w["ada"])) == (
        "identity_id", "This number's services must use its registration identity Bob Builder.")
    assert _cnam(w, identity_id=w["bob"]).identity_id == w["bob"]


def test_one_row_per_number_and_kind_and_the_same_details_change_nothing(world):
    w = world
    first = _cnam(w)
    again = _cnam(w)
    assert again.id == first.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberService)) == 1
    assert [e.action for e in _history(w["number"])] == ["number.service_requested"]


def test_changing_an_active_cnam_goes_back_to_pending_and_history_keeps_the_old_value(world):
    w = world
    service = _cnam(w, value="OLD NAME")
    svc.approve_service(CLI, service.id)
    changed = _cnam(w, value="NEW NAME")
    assert (changed.id, changed.status, changed.value, changed.decided_at) == (service.id, "pending", "NEW NAME", None)
    event = _history(w["number"])[-1]
    assert event.action == "number.service_changed"
    assert event.before == {"CNAM OUT status": "active", "CNAM OUT value": "OLD NAME"}
    assert event.after == {"CNAM OUT status": "pending", "CNAM OUT value": "NEW NAME"}


def test_approve_makes_it_active_with_the_decision(world):
    w = world
    service = svc.approve_service(CLI, _cnam(w).id)
    assert service.status == "active" and service.decided_at is not None
    assert _history(w["number"])[-1].action == "number.service_approved"
    assert _refusal(lambda: svc.approve_service(CLI, service.id))[1] == (
        "This request is active already; only a pending request can be decided.")


@pytest.mark.parametrize("reason, message", [("", svc.REASON_REQUIRED), ("  ", svc.REASON_REQUIRED),
                                             (None, svc.REASON_REQUIRED), ("x" * 1001, svc.REASON_TOO_LONG)])
def test_reject_needs_a_reason_of_at_most_1000_characters(world, reason, message):
    service = _cnam(world)
    assert _refusal(lambda: svc.reject_service(CLI, service.id, reason)) == ("reason", message)
    assert db.session.get(NumberService, service.id).status == "pending"


def test_reject_keeps_the_reason_and_a_resubmit_is_pending_again(world):
    w = world
    service = svc.reject_service(CLI, _cnam(w).id, "x" * 999 + "y")
    assert (service.status, len(service.reject_reason)) == ("rejected", 1000)
    event = _history(w["number"])[-1]
    assert (event.action, event.note) == ("number.service_rejected", "x" * 999 + "y")
    assert _refusal(lambda: svc.reject_service(CLI, service.id, "again"))[1].startswith("This request is rejected")
    again = _cnam(w)  # the same details: a resubmit after a rejection
    assert (again.status, again.reject_reason) == ("pending", None)


def test_remove_deletes_the_row_and_writes_history(world):
    w = world
    service = svc.request_service(CLI, w["number"], "emergency", identity_id=w["ada"], address_id=w["home"])
    version = db.session.get(Number, w["number"]).version
    with pytest.raises(Conflict):
        svc.remove_service(CLI, service.id, version=version - 1)
    svc.remove_service(CLI, service.id, version=version)
    assert db.session.get(NumberService, service.id) is None
    event = _history(w["number"])[-1]
    assert event.action == "number.service_removed"
    assert event.before["Emergency address"] == "1 Main St, Springfield, 12345, US" and event.after is None
    assert _refusal(lambda: svc.remove_service(CLI, service.id))[1] == svc.SERVICE_MISSING


def test_a_stale_number_version_is_a_conflict_and_writes_nothing(world):
    w = world
    version = db.session.get(Number, w["number"]).version
    with pytest.raises(Conflict):
        _cnam(w, version=version - 1)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberService)) == 0
    assert _history(w["number"]) == []
