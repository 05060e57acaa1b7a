"""Adding numbers: reading single / range / list, the preview and the confirm (lifecycle.md §2)."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from did_app import audit
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.errors import DomainError
from did_app.intake import service
from did_app.intake.service import AddInput, Common
from did_app.models import AuditEvent, LedgerEntry, Number, Order, Requirement, Workspace
from did_app.workspace import ensure_workspace
from tests import factories

ACTOR = audit.Actor(None, "cli", "cli")


def _balance(amount: int) -> None:
    ws = ensure_workspace(db.session)
    ws.balance_minor = amount
    db.session.commit()


def _common(**kw) -> Common:
    return Common(**{"monthly_price_minor": 150, "setup_price_minor": 50, **kw})


def _range(first, last) -> AddInput:
    return AddInput(tab="range", first=first, last=last)


def _list(text) -> AddInput:
    return AddInput(tab="list", text=text)


def _refusal(inp, common=None) -> DomainError:
    with pytest.raises(DomainError) as info:
        service.preview_add(inp, common or _common())
    return info.value


# ---- reading -------------------------------------------------------------------------------

@pytest.mark.parametrize("first,last", [("+14155550100", "+442071838750"),   # country codes differ
                                        ("+3225551234", "+32475123456")])     # lengths differ
def test_range_needs_same_country_code_and_length(app, first, last):
    with app.app_context():
        _balance(0)
        err = _refusal(_range(first, last))
        assert (err.message, err.field) == ("First and last must have the same country code and length.", "last")


def test_range_holds_at_most_10000_numbers(app):
    with app.app_context():
        _balance(0)
        err = _refusal(_range("+14155550000", "+14155560000"))  # 10,001 numbers
        assert (err.message, err.field) == ("A range can hold at most 10,000 numbers.", "last")
        assert service.preview_add(_range("+14155550000", "+14155559999"), _common()).added == 10_000


def test_range_refuses_last_before_first_and_invalid_ends(app):
    with app.app_context():
        _balance(0)
        assert _refusal(_range("+14155550120", "+14155550100")).field == "last"
        err = _refusal(_range("12", "+14155550100"))
        assert (err.message, err.field) == ("Enter a valid phone number, e.g. +44 20 7183 8750.", "first")


def test_list_holds_at_most_10000_numbers(app):
    with app.app_context():
        _balance(0)
        text = "\n".join(f"+1415555{i:04d}" for i in range(10_000)) + "\n+14165550000"
        err = _refusal(_list(text))
        assert (err.message, err.field) == ("Paste at most 10,000 numbers.", "numbers")


def test_single_reads_a_national_number_in_the_default_country(app):
    with app.app_context():
        _balance(0)
        preview = service.preview_add(AddInput(tab="single", number="(415) 555-2671"), _common())
        [row] = preview.rows
        assert (row.text, row.country, row.number_type, row.outcome) == ("+14155552671", "US", "local", "add")
        assert row.city == "San Francisco"
        assert _refusal(AddInput(tab="single", number="12")).field == "number"


# ---- the preview ---------------------------------------------------------------------------

def test_preview_marks_skips_and_errors_and_sums_the_charge(app):
    with app.app_context():
        _balance(1000)
        factories.make_number(number="+14155550101")
        preview = service.preview_add(_list("+1 415 555 0101\nnope, +14155550102\n+14155550103"), _common())
        assert [(r.text, r.outcome) for r in preview.rows] == [
            ("nope", "error"), ("+14155550101", "skip"), ("+14155550102", "add"), ("+14155550103", "add")]
        assert preview.rows[1].outcome_text == "skip — already in the inventory"
        assert preview.rows[0].outcome_text == "error — not a valid number"
        assert preview.summary == ("2 to add, 1 skipped, 1 with errors. Charge $4.00 (setup $1.00 + first month "
                                   "$3.00). Balance $10.00 → $6.00.")
        assert preview.blocker == "Fix the 1 number with errors."


def test_preview_blocks_confirm_when_the_balance_is_short(app):
    with app.app_context():
        _balance(100)
        preview = service.preview_add(_range("+14155550100", "+14155550101"), _common())
        assert preview.errors == 0 and preview.charge == (400, 100, 300)
        assert preview.blocker == "Balance $1.00 is short of $4.00."
        with pytest.raises(DomainError, match=r"^Balance \$1.00 is short of \$4.00.$"):
            service.confirm_add(ACTOR, _range("+14155550100", "+14155550101"), _common())
        assert db.session.scalar(sa.select(sa.func.count(Number.id))) == 0


def test_preview_names_the_rule_and_profile_and_fills_blanks(app):
    with app.app_context():
        _balance(0)
        trunk = factories.make_voice_trunk(name="sip-sf")
        profile = profiles_service.create_profile(ACTOR, name="SF office", voice_route_id=trunk.id,
                                                  description="From the profile")
        profiles_service.create_rule(ACTOR, name="US local", profile_id=profile.id, countries=["US"],
                                     number_types=["local"])
        preview = service.preview_add(_range("+14155550100", "+14155550101"), _common(description="Mine"))
        row = preview.rows[0]
        assert (row.spec.rule_name, row.spec.profile_name) == ("US local", "SF office")
        assert row.spec.voice_route_id == trunk.id
        assert row.spec.description == "Mine"  # explicit values win over the profile
        uk = service.preview_add(AddInput(tab="single", number="+442071838750"), _common())
        assert uk.rows[0].spec.rule_name is None


def test_preview_reads_10000_numbers_with_a_bounded_number_of_queries(app):
    with app.app_context():
        _balance(0)
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            preview = service.preview_add(_range("+14155550000", "+14155559999"), _common())
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert preview.added == 10_000 and len(preview.shown) == 500
        assert len(statements) < 40, statements[:50]


def test_needs_registration_defaults_from_the_requirement_table_and_can_be_overridden(app):
    with app.app_context():
        _balance(0)
        db.session.add(Requirement(country="GB", number_type="local", registration_required=True))
        db.session.commit()
        inp = AddInput(tab="single", number="+442071838750")
        assert service.preview_add(inp, _common()).specs[0].needs_registration is True
        assert service.preview_add(inp, _common(needs_registration=False)).specs[0].needs_registration is False
        us = AddInput(tab="single", number="+14155552671")
        assert service.preview_add(us, _common()).specs[0].needs_registration is False


def test_single_location_can_be_corrected_but_not_to_another_country_code(app):
    with app.app_context():
        _balance(0)
        inp = AddInput(tab="single", number="+14155552671", country="CA", region="BC", city="Vancouver")
        spec = service.preview_add(inp, _common()).specs[0]
        assert (spec.country, spec.region, spec.city) == ("CA", "BC", "Vancouver")
        err = _refusal(AddInput(tab="single", number="+14155552671", country="GB", region="", city=""))
        assert (err.message, err.field) == ("Country GB does not match +1.", "country")


def test_common_field_rules(app, clock):
    with app.app_context():
        _balance(0)
        inp = AddInput(tab="single", number="+442071838750")
        assert _refusal(inp, _common(features=("voice_in", "cnam_out"))).message == \
            "CNAM is only available for US numbers."
        err = _refusal(inp, _common(paid_until=clock.now()))
        assert (err.message, err.field) == ("Paid-until date must be in the future.", "paid_until")
        sms = factories.make_sms_trunk()
        assert _refusal(inp, _common(sms_route_id=sms.id)).field == "sms_route_id"  # no SMS in feature
        group = factories.make_capacity_group(pool=factories.make_pool(countries=("US",)), name="US shared")
        assert _refusal(inp, _common(capacity_group_id=group.id)).message == \
            "Capacity group US shared does not cover GB."


# ---- the confirm ---------------------------------------------------------------------------

def test_confirm_creates_charges_and_applies_the_profile(app):
    with app.app_context():
        _balance(10_000)
        trunk = factories.make_voice_trunk(name="sip-sf")
        profile = profiles_service.create_profile(ACTOR, name="SF office", voice_route_id=trunk.id)
        profiles_service.create_rule(ACTOR, name="US", profile_id=profile.id, countries=["US"])
        inp, common = _range("+14155550100", "+14155550119"), _common(order_reference="PO-77")
        expected = service.preview_add(inp, common).added
        order, count = service.confirm_add(ACTOR, inp, common, expected=expected)
        assert (order.reference, order.kind, order.status, order.external_reference, count) == \
            ("ORD-000001", "add", "completed", "PO-77", 20)
        numbers = db.session.scalars(sa.select(Number).order_by(Number.number)).all()
        assert len(numbers) == 20 and {n.voice_route_id for n in numbers} == {trunk.id}
        assert {n.status for n in numbers} == {"active"}
        assert numbers[0].expires_at == datetime(2026, 12, 28, 12, 0, tzinfo=timezone.utc)
        assert db.session.get(Workspace, 1).balance_minor == 10_000 - 20 * 200
        charges = db.session.scalars(sa.select(LedgerEntry.amount_minor).where(LedgerEntry.kind == "add_charge")).all()
        assert charges == [-200] * 20
        notes = db.session.scalars(sa.select(AuditEvent.note).where(AuditEvent.action == "number.updated")).all()
        assert notes == ["Profile SF office applied by rule US"] * 20


def test_paid_until_is_not_charged(app):
    with app.app_context():
        _balance(0)
        until = datetime(2027, 3, 1, 0, 0, tzinfo=timezone.utc)
        common = _common(paid_until=until)
        preview = service.preview_add(_range("+14155550100", "+14155550104"), common)
        assert preview.charge == (0, 0, 0) and preview.blocker is None
        service.confirm_add(ACTOR, _range("+14155550100", "+14155550104"), common, expected=5)
        assert set(db.session.scalars(sa.select(Number.expires_at))) == {until}
        assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 0


def test_confirm_refuses_errors_and_writes_nothing(app):
    with app.app_context():
        _balance(10_000)
        with pytest.raises(DomainError, match="^Fix the 1 number with errors.$"):
            service.confirm_add(ACTOR, _list("+14155550101\nnope"), _common())
        assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0


def test_a_number_added_meanwhile_stops_the_confirm(app, clock):
    with app.app_context():
        _balance(10_000)
        inp = _list("+14155550101\n+14155550102")
        expected = service.preview_add(inp, _common()).added
        clock.advance(seconds=5)
        factories.make_number(number="+14155550102", created_at=clock.now())
        with pytest.raises(DomainError) as info:
            service.confirm_add(ACTOR, inp, _common(), expected=expected)
        assert info.value.message == "+14155550102 was added by someone else meanwhile. Review again."
        assert db.session.scalar(sa.select(sa.func.count(Number.id))) == 1
        assert db.session.get(Workspace, 1).balance_minor == 10_000
