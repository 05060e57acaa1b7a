"""CSV import (lifecycle.md §3): the file checks, every row rule and message, all-or-nothing writes,
and the round trip from an export into an empty workspace."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from did_app import audit
from did_app.db import db
from did_app.imports import parser, service
from did_app.models import (
    AuditEvent,
    CapacityGroup,
    CapacityPool,
    ConfigurationProfile,
    LedgerEntry,
    Number,
    Order,
    Requirement,
    Rule,
    SmsRoute,
    VoiceRoute,
    Workspace,
)
from did_app.workspace import ensure_workspace
from tests import factories
from tests.conftest import T0

ACTOR = audit.Actor(None, "cli", "cli")


def _balance(amount, **settings):
    ws = ensure_workspace(db.session)
    ws.balance_minor = amount
    for key, value in settings.items():
        setattr(ws, key, value)
    db.session.commit()


def _table(text: str) -> parser.Table:
    return parser.read_table(text.encode())


def _check(text: str, skip_existing=False) -> service.Report:
    return service.check_file(_table(text), filename="t.csv", skip_existing=skip_existing)


def _import(text: str, skip_existing=False) -> service.Report:
    return service.import_file(ACTOR, _table(text), filename="t.csv", skip_existing=skip_existing)


def _messages(report) -> list[str]:
    return [m for r in report.rows for m in r.messages]


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ---- the file ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("number,monthly_price,colour\n", "Unknown column 'colour'. Known columns: number, country, region, city, "
                                      "number_type, status, expiring_soon, expires_at, billing_cycles, description, "
                                      "voice_route, sms_route, capacity_mode, channels_included, dedicated_channels, "
                                      "capacity_group, capacity_limit, identity, verification, features, "
                                      "order_reference, monthly_price, created_at, setup_price, needs_registration, "
                                      "allow_additional_channels."),
    ("monthly_price,description\n1,x\n", "Missing required column 'number'."),
    ("number,description\n+14155550101,x\n", "Missing required column 'monthly_price'."),
    ("", "The file is empty: the first line must name the columns."),
    ("number,number,monthly_price\n", "Column 'number' appears twice."),
])
def test_file_errors_stop_before_any_row(app, text, message):
    with app.app_context(), pytest.raises(parser.FileError) as err:
        _table(text)
    assert err.value.message == message and err.value.field == "file"


def test_bad_utf8_names_the_line():
    data = "number,monthly_price\n+14155550101,1\n".encode() + b"+1415555\xff0102,1\n"
    with pytest.raises(parser.FileError, match=r"^The file is not valid UTF-8 \(first bad byte at line 3\)\.$"):
        parser.read_table(data)


def test_size_and_row_limits():
    with pytest.raises(parser.FileError, match="larger than 20 MB"):
        parser.read_table(b"number,monthly_price\n" + b"x" * parser.MAX_BYTES)
    rows = ["+1415%07d,1\n" % i for i in range(parser.MAX_ROWS + 1)]
    with pytest.raises(parser.FileError, match="more than 100,000 data rows"):
        parser.read_table(("number,monthly_price\n" + "".join(rows)).encode())
    assert len(parser.read_table(("number,monthly_price\n" + "".join(rows[:-1])).encode()).rows) == parser.MAX_ROWS


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf Number ;MONTHLY_PRICE;Description\r\n+14155550101;1.50;a, b\r\n",
    b"number\tmonthly_price\tdescription\n+14155550101\t1.50\ta, b\n",
    b'Number,Monthly_Price,description\n+14155550101,1.50,"a, b"\n',
])
def test_bom_delimiters_and_header_case(data):
    table = parser.read_table(data)
    assert set(table.columns) == {"number", "monthly_price", "description"}
    (row, cells), = table.rows
    assert row == 2 and parser.cell(cells, table.columns, "description") == "a, b"


def test_blank_lines_keep_row_numbers(app):
    with app.app_context():
        _balance(0)
        report = _check("number,monthly_price\n\n+14155550101,1\n,\n+1,1\n")
        assert [(r.row, r.outcome) for r in report.rows] == [(3, "add"), (5, "error")]
        assert _messages(report) == ["Row 5: '+1' is not a valid phone number."]


# ---- the rows ----------------------------------------------------------------------------------

def test_number_rules_invalid_duplicate_existing(app):
    with app.app_context():
        _balance(10_000)
        factories.make_number(number="+14155550199")
        text = ("number,monthly_price\n(415) 555-0101,1\n+1 415 555 0101,1\nnot a number,1\n+14155550199,1\n"
                ",1\n")
        report = _check(text)
        assert _messages(report) == [
            "Row 3: same number as row 2.", "Row 4: 'not a number' is not a valid phone number.",
            "Row 5: +14155550199 is already in the inventory.", "Row 6: number is required."]
        assert report.rows[0].number == "+14155550101"  # read in the default country
        skipped = _check(text, skip_existing=True)
        assert [r.outcome for r in skipped.rows] == ["add", "error", "error", "skip", "error"]


def test_country_detected_or_checked_against_the_code(app):
    with app.app_context():
        _balance(0)
        report = _check("number,country,monthly_price\n+14155550101,,1\n+14155550102,GB,1\n+442071838750,gb,1\n"
                        "+14165550103,CA,1\n")
        assert _messages(report) == ["Row 3: country GB does not match +1."]
        assert [r.spec.country for r in report.rows if r.spec] == ["US", "GB", "CA"]


def test_region_city_and_type_are_detected_when_blank(app):
    with app.app_context():
        _balance(0)
        report = _check("number,region,city,number_type,monthly_price\n+14155550101,,,,1\n"
                        "+442071838750,England,,national,1\n+18005550100,,,,1\n+14155550102,,,landline,1\n")
        first, second, toll_free, _ = report.rows
        assert (first.spec.region, first.spec.city, first.spec.number_type) == ("CA", "San Francisco", "local")
        assert (second.spec.region, second.spec.city, second.spec.number_type) == ("England", "London", "national")
        assert (toll_free.spec.number_type, toll_free.spec.capacity_mode, toll_free.spec.channels_included) == (
            "toll_free", "fixed", 300)
        assert _messages(report) == ["Row 5: unknown number type 'landline'."]


def test_features(app):
    with app.app_context():
        _balance(0)
        report = _check("number,features,monthly_price\n+14155550101,,1\n+14155550102,voice_in; SMS_IN;cnam_out,1\n"
                        "+14155550103,voice_in;fax,1\n+442071838750,cnam_out,1\n")
        assert report.rows[0].spec.features == 1 and report.rows[1].spec.features == 1 | 8 | 64
        assert _messages(report) == ["Row 4: unknown feature 'fax'.",
                                     "Row 5: CNAM OUT is available for US numbers only."]


def test_prices_cycles_flags_and_lengths(app):
    with app.app_context():
        _balance(0)
        report = _check(
            "number,monthly_price,setup_price,billing_cycles,needs_registration,allow_additional_channels,"
            "capacity_limit,order_reference,description\n"
            "+14155550101,1.50,0.25,unlimited,yes,no,10,,  trimmed  \n"
            "+14155550102,1.505,-1,1000,maybe,x,0," + "r" * 101 + ",\n"
            "+14155550103,,abc,12,,,,,\n")
        ok = report.rows[0].spec
        assert (ok.monthly_price_minor, ok.setup_price_minor, ok.billing_cycles_count, ok.needs_registration,
                ok.allow_additional_channels, ok.capacity_limit, ok.description) == (
            150, 25, None, True, False, 10, "trimmed")
        assert _messages(report) == [
            "Row 3: monthly_price '1.505' uses more than 2 decimal places.",
            "Row 3: setup_price can't be negative.",
            "Row 3: billing_cycles must be 'unlimited' or 0–999.",
            "Row 3: needs_registration must be yes or no.",
            "Row 3: allow_additional_channels must be yes or no.",
            "Row 3: capacity_limit must be a whole number from 1 to 32,767, or blank.",
            "Row 3: order_reference must be at most 100 characters.",
            "Row 4: monthly_price is required.",
            "Row 4: setup_price 'abc' is not an amount such as 12.50."]
        assert report.rows[2].spec is None


def test_currency_without_decimals(app):
    with app.app_context():
        _balance(0, currency="JPY")
        report = _check("number,monthly_price\n+14155550101,150\n+14155550102,1.5\n")
        assert report.rows[0].spec.monthly_price_minor == 150
        assert _messages(report) == ["Row 3: monthly_price '1.5' uses more than 0 decimal places."]


def test_needs_registration_defaults_from_the_requirements(app):
    with app.app_context():
        _balance(0)
        db.session.add(Requirement(country="GB", number_type="*", registration_required=True, identity_type="any",
                                   address_area="country", personal_proofs=1, business_proofs=1, address_proofs=1))
        db.session.commit()
        report = _check("number,monthly_price,needs_registration\n+442071838750,1,\n+14155550101,1,\n"
                        "+442071838751,1,no\n")
        assert [r.spec.needs_registration for r in report.rows] == [True, False, False]


def test_expires_at_date_is_midnight_in_the_workspace_zone(app):
    with app.app_context():
        _balance(0, time_zone="Europe/Berlin")
        report = _check("number,monthly_price,expires_at\n+14155550101,1,2027-01-15\n"
                        "+14155550102,1,2027-01-15T10:30:00Z\n+14155550103,1,2026-11-28\n"
                        "+14155550104,1,15/01/2027\n+14155550105,1,\n")
        specs = [r.spec for r in report.rows]
        assert specs[0].paid_until == datetime(2027, 1, 14, 23, 0, tzinfo=timezone.utc)
        assert specs[1].paid_until == datetime(2027, 1, 15, 10, 30, tzinfo=timezone.utc)
        assert specs[4].paid_until is None
        assert _messages(report) == ["Row 4: expires_at must be in the future.",
                                     "Row 5: expires_at '15/01/2027' is not an ISO date or date-time."]
        assert report.charge == (100, 0, 100)  # only the row without expires_at is charged


def test_routes_and_groups_by_name_in_any_case(app):
    with app.app_context():
        _balance(0)
        factories.make_voice_trunk(name="Main SIP")
        factories.make_sms_trunk(name="SMS Hub")
        pool = factories.make_pool(countries=("US",), name="US pool")
        group = factories.make_capacity_group(pool=pool, name="Shared US")
        report = _check(
            "number,features,voice_route,sms_route,capacity_group,monthly_price\n"
            "+14155550101,voice_in;sms_in,main sip,SMS HUB,shared us,1\n"
            "+14155550102,voice_in,Backup,Nope,Other,1\n"
            "+14155550103,sms_in,Main SIP,,,1\n"
            "+442071838750,voice_in,,,Shared US,1\n")
        spec = report.rows[0].spec
        assert (spec.voice_route_id, spec.capacity_group_id) == (
            db.session.scalar(sa.select(VoiceRoute.id).where(VoiceRoute.name == "Main SIP")), group.id)
        assert _messages(report) == [
            "Row 3: voice route 'Backup' not found.", "Row 3: SMS route 'Nope' not found.",
            "Row 3: capacity group 'Other' not found.",
            "Row 4: This number does not support inbound voice.",
            "Row 5: Capacity group Shared US uses pool US pool, which does not cover GB."]


@pytest.mark.parametrize("mode,channels,expected", [
    ("", "2", ("two_included", 2)), ("", "0", ("zero_included", 0)), ("", "12", ("fixed", 12)),
    ("", "", ("two_included", 2)), ("metered", "", ("metered", 0)), ("fixed", "", ("fixed", 300)),
    ("Fixed", "40", ("fixed", 40)),
])
def test_capacity_mode_from_channels(app, mode, channels, expected):
    with app.app_context():
        _balance(0)
        report = _check(f"number,capacity_mode,channels_included,monthly_price\n+14155550101,{mode},{channels},1\n")
        spec = report.rows[0].spec
        assert (spec.capacity_mode, spec.channels_included) == expected
        assert spec.allow_additional_channels is (expected[0] not in ("fixed", "metered"))


def test_capacity_mode_errors(app):
    with app.app_context():
        _balance(0)
        report = _check("number,capacity_mode,channels_included,monthly_price\n+14155550101,two_included,3,1\n"
                        "+14155550102,turbo,,1\n+14155550103,,-1,1\n")
        assert _messages(report) == ["Row 2: channels_included must be 2 for two_included.",
                                     "Row 3: unknown capacity mode 'turbo'.",
                                     "Row 4: channels_included must be a whole number from 0 to 32,767."]


def test_dedicated_channels_find_their_pool(app):
    with app.app_context():
        _balance(0)
        gb = factories.make_pool(countries=("GB",), total=10, name="GB only")
        us_a = factories.make_pool(countries=("US",), total=10, name="US A")
        us_b = factories.make_pool(countries=("US", "CA"), total=3, name="US B")
        factories.make_capacity_group(pool=us_b, shared=1, name="B group")
        report = _check(
            "number,dedicated_channels,capacity_group,capacity_mode,monthly_price\n"
            "+442071838750,4,,,1\n"      # the only pool covering GB
            "+14155550101,2,B group,,1\n"  # several cover US: the group's pool
            "+14155550102,2,,,1\n"        # several, no group
            "+14155550103,1,B group,,1\n"  # B has 3 − 1 shared − 2 = 0 left
            "+33140000000,1,,,1\n"        # none covers FR
            "+14155550104,1,,fixed,1\n")  # fixed takes no additional channels
        pools = [(r.spec.capacity_pool_id, r.spec.dedicated_channels) if r.spec else None for r in report.rows]
        assert pools[:2] == [(gb.id, 4), (us_b.id, 2)]
        assert _messages(report) == [
            "Row 4: dedicated_channels needs a pool; 2 pools cover US.",
            "Row 5: Pool US B has 0 unassigned channels; 1 are needed.",
            "Row 6: dedicated_channels needs a pool; 0 pools cover FR.",
            "Row 7: This number cannot take additional channels."]
        assert us_a.id  # covered, but ambiguous without a group


def test_exported_derived_columns_are_ignored_and_terminated_rows_reported(app):
    with app.app_context():
        _balance(0)
        report = _check(
            "number,status,expiring_soon,verification,identity,created_at,monthly_price\n"
            "+14155550101,active,true,approved,Ada Lovelace,2026-01-01T00:00:00Z,1\n"
            "+14155550102,terminated,false,not_required,,2026-01-01T00:00:00Z,1\n"
            "+14155550103,porting,false,not_required,,,1\n")
        assert [r.outcome for r in report.rows] == ["add", "skip", "skip"]
        assert _messages(report) == [
            "Row 3: +14155550102 is terminated in the file; import adds live numbers only.",
            "Row 4: +14155550103 is porting in the file; add it with a port-in request instead."]
        assert report.notes == ["The identity column is ignored: assign end-user details on the numbers after "
                                "the import."]


def test_formula_guard_is_undone(app):
    with app.app_context():
        _balance(0)
        report = _check("number,description,monthly_price\n+14155550101,'=HYPERLINK(\"x\"),1\n"
                        "+14155550102,'plain,1\n")
        assert [r.spec.description for r in report.rows] == ['=HYPERLINK("x")', "'plain"]


def test_extra_cells_are_an_error(app):
    with app.app_context():
        _balance(0)
        report = _check("number,monthly_price\n+14155550101,1,surprise\n+14155550102,1,\n")
        assert _messages(report) == ["Row 2: it has 3 cells; the header names 2."]


def test_rules_fill_blanks_and_explicit_values_win(app):
    with app.app_context():
        _balance(0)
        rule_trunk = factories.make_voice_trunk(name="Rule trunk")
        factories.make_voice_trunk(name="Explicit")
        profile = ConfigurationProfile(name="US profile", voice_route_id=rule_trunk.id, description="from rule")
        db.session.add(profile)
        db.session.flush()
        db.session.add(Rule(name="US rule", profile_id=profile.id, countries=["US"]))
        db.session.commit()
        report = _check("number,voice_route,description,monthly_price\n+14155550101,,,1\n+14155550102,Explicit,mine,1\n")
        first, second = report.rows
        assert (first.spec.voice_route_id, first.spec.description, first.rule) == (
            rule_trunk.id, "from rule", "US rule → US profile")
        assert second.spec.voice_route_id != rule_trunk.id and second.spec.description == "mine"
        assert report.summary()["rows"][0]["rule"] == "US rule → US profile"


# ---- the import --------------------------------------------------------------------------------

def test_import_creates_orders_per_reference_and_charges(app):
    with app.app_context():
        _balance(10_000)
        report = _import("number,monthly_price,setup_price,order_reference,expires_at\n"
                         "+14155550101,1.00,0.50,PO-1,\n+14155550102,2.00,,PO-1,\n+14155550103,3.00,,,\n"
                         "+14155550104,4.00,,,2027-03-01\n")
        assert report.refusal is None and len(report.orders) == 2
        orders = {o.external_reference: o for o in db.session.scalars(sa.select(Order))}
        assert set(orders) == {"PO-1", None}
        assert (orders["PO-1"].kind, orders["PO-1"].number_count, orders[None].number_count) == ("import", 2, 2)
        assert report.orders[0] == orders["PO-1"].reference  # the first row's order comes first
        assert db.session.get(Workspace, 1).balance_minor == 10_000 - 650
        assert _count(LedgerEntry) == 3  # the paid-until row is not charged
        paid = db.session.scalar(sa.select(Number).where(Number.number == "+14155550104"))
        assert paid.expires_at == datetime(2027, 3, 1, tzinfo=timezone.utc)
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "import.completed"))
        assert event.after["added"] == 4 and event.after["charged"] == 650
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "number.added")) == 4


def test_one_bad_row_writes_nothing(app):
    with app.app_context():
        _balance(10_000)
        report = _import("number,monthly_price,voice_route\n+14155550101,1,\n+14155550102,1,Missing trunk\n")
        assert report.refusal == "Fix the 1 row with errors; nothing was imported."
        assert _messages(report) == ["Row 3: voice route 'Missing trunk' not found."]
        assert (_count(Number), _count(Order), _count(LedgerEntry), _count(AuditEvent)) == (0, 0, 0, 0)
        assert db.session.get(Workspace, 1).balance_minor == 10_000


def test_short_balance_writes_nothing(app):
    with app.app_context():
        _balance(100)
        report = _import("number,monthly_price\n+14155550101,1.00\n+14155550102,1.00\n")
        assert report.short and report.refusal == "Balance $1.00 is short of $2.00."
        assert (_count(Number), _count(Order), _count(LedgerEntry)) == (0, 0, 0)


def test_skip_existing_imports_the_rest(app):
    with app.app_context():
        _balance(1000)
        factories.make_number(number="+14155550101")
        report = _import("number,monthly_price\n+14155550101,1\n+14155550102,1\n", skip_existing=True)
        assert report.refusal is None and (report.count("add"), report.count("skip")) == (1, 1)
        assert _count(Number) == 2


def test_references_changed_meanwhile_writes_nothing(app, monkeypatch):
    with app.app_context():
        _balance(1000)
        trunk = factories.make_voice_trunk(name="Main")
        real = service._references
        calls = []

        def renamed_before_the_write(session):
            calls.append(1)
            if len(calls) == 2:  # the recheck inside the write transaction
                trunk.name, trunk.name_key = "Renamed", "renamed"
                session.flush()
            return real(session)

        monkeypatch.setattr(service, "_references", renamed_before_the_write)
        report = _import("number,monthly_price,voice_route\n+14155550101,1,main\n")
        assert report.refusal == service.CHANGED_MEANWHILE
        assert _count(Number) == 0 and db.session.get(VoiceRoute, trunk.id).name == "Main"


def test_report_csv_lists_every_row(app):
    with app.app_context():
        _balance(0)
        report = _check("number,monthly_price\n+14155550101,1\nbad,1\n")
        assert report.csv_text().splitlines() == [
            "row,number,outcome,message", "2,+14155550101,add,", "3,bad,error,Row 3: 'bad' is not a valid phone number."]


# ---- round trip --------------------------------------------------------------------------------

def _seed_workspace():
    """Trunks, groups, pools and numbers in every capacity shape, plus a terminated and a porting one."""
    trunk = factories.make_voice_trunk(name="Main SIP")
    backup = factories.make_voice_trunk(name="Backup SIP")
    vgroup = factories.make_voice_group(members=[trunk, backup], name="Voice group")
    sms = factories.make_sms_trunk(name="SMS Hub")
    us_pool = factories.make_pool(countries=("US",), total=50, name="US pool")
    gb_pool = factories.make_pool(countries=("GB",), total=20, name="GB pool")
    factories.make_pool(countries=("US",), total=5, name="Spare US pool")
    group = factories.make_capacity_group(pool=us_pool, shared=4, name="US shared")
    order = factories.make_order(external_reference="PO-7")
    later = T0 + timedelta(days=20, hours=3)
    factories.make_number(number="+14155550101", voice_route_id=trunk.id, sms_route_id=sms.id,
                          features=("voice_in", "sms_in", "cnam_out"), description="=SUM(A1)", expires_at=later,
                          capacity_group_id=group.id, capacity_pool_id=us_pool.id, dedicated_channels=3,
                          capacity_limit=9, billing_cycles_count=4, monthly_price_minor=275, order_id=order.id)
    factories.make_number(number="+14155550102", voice_route_id=vgroup.id, capacity_mode="zero_included",
                          channels_included=0, expires_at=later + timedelta(days=3), order_id=order.id)
    factories.make_number(number="+442071838750", country="GB", region=None, city="London", number_type="national",
                          capacity_pool_id=gb_pool.id, dedicated_channels=2, expires_at=later + timedelta(days=40))
    factories.make_number(number="+18005550100", number_type="toll_free", capacity_mode="fixed",
                          channels_included=120, allow_additional_channels=False, expires_at=later)
    factories.make_number(number="+14155550105", capacity_mode="metered", channels_included=0,
                          allow_additional_channels=False, expires_at=later)
    factories.make_number(number="+14155550106", cancelled_at=T0 - timedelta(days=2), expires_at=later)
    factories.make_number(number="+14155550107", porting=True, expires_at=None)


def _reference_only(tmp_path, clock):
    """A second, empty app with trunks, groups and pools of the same names and no numbers."""
    from did_app import create_app
    from tests.conftest import _config, reset_database

    (tmp_path / "b").mkdir()
    other = create_app(_config(tmp_path / "b", clock))
    reset_database(other)
    with other.app_context():
        _balance(0)
        trunk = factories.make_voice_trunk(name="Main SIP")
        backup = factories.make_voice_trunk(name="Backup SIP")
        factories.make_voice_group(members=[trunk, backup], name="Voice group")
        factories.make_sms_trunk(name="SMS Hub")
        us_pool = factories.make_pool(countries=("US",), total=50, name="US pool")
        factories.make_pool(countries=("GB",), total=20, name="GB pool")
        factories.make_pool(countries=("US",), total=5, name="Spare US pool")
        factories.make_capacity_group(pool=us_pool, shared=4, name="US shared")
    return other


SNAPSHOT = sa.select(
    Number.number, Number.country, Number.region, Number.city, Number.number_type, Number.features,
    Number.description, Number.capacity_mode, Number.channels_included, Number.allow_additional_channels,
    Number.dedicated_channels, CapacityPool.name, CapacityGroup.name, Number.capacity_limit,
    VoiceRoute.name, SmsRoute.name, Number.billing_cycles_count, Number.monthly_price_minor, Number.expires_at,
).outerjoin(CapacityPool, CapacityPool.id == Number.capacity_pool_id).outerjoin(SmsRoute, SmsRoute.id == Number.sms_route_id).outerjoin(
    CapacityGroup, CapacityGroup.id == Number.capacity_group_id).outerjoin(
    VoiceRoute, VoiceRoute.id == Number.voice_route_id).order_by(Number.number)


def test_round_trip_export_then_import_into_an_empty_workspace(app, client, tmp_path, clock):
    from tests.conftest import login

    with app.app_context():
        _balance(0)
        _seed_workspace()
        live = [n for n in db.session.execute(SNAPSHOT).all() if n.number not in ("+14155550106", "+14155550107")]
    login(client, "viewer")
    exported = client.get("/numbers/export.csv").get_data()
    assert b"'=SUM(A1)" in exported  # the export's formula guard, undone by the import

    other = _reference_only(tmp_path, clock)
    with other.app_context():
        report = service.import_file(ACTOR, parser.read_table(exported), filename="export.csv", skip_existing=False)
        assert report.refusal is None, _messages(report)
        outcomes = {r.number: (r.outcome, r.messages) for r in report.rows}
        assert outcomes["+14155550106"] == ("skip", [
            f"Row {report.rows[[r.number for r in report.rows].index('+14155550106')].row}: +14155550106 is "
            "terminated in the file; import adds live numbers only."])
        assert outcomes["+14155550107"][0] == "skip" and "porting" in outcomes["+14155550107"][1][0]
        assert db.session.execute(SNAPSHOT).all() == live
        # one order per exported order reference (blank ones form one); nothing charged: all paid until
        assert {o.external_reference for o in db.session.scalars(sa.select(Order))} == {"PO-7", None}
        assert _count(LedgerEntry) == 0
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


# ---- issue 8 §4: quotes that never close, control characters in every cell -------------------

UNCLOSED = ("Row 3: a quote opens a cell and is never closed, so the rest of the file would run into that "
            "cell. Close the quote, or remove it.")


@pytest.mark.parametrize("text,message", [
    # the quote runs to the end of the file: rows 4 and 5 would have become part of row 3's description
    ('number,description,monthly_price\n+14155550101,a,1\n+14155550102,"Sales,1\n+14155550103,b,1\n'
     "+14155550104,c,1\n", UNCLOSED),
    ('number,description,monthly_price\n+14155550101,a,1\n+14155550102,"a ""quoted"" word,1\n', UNCLOSED),
    # a later quote closes it: row 4 would have become part of row 3
    ('number,description,monthly_price\n+14155550101,a,1\n+14155550102,"Sales,1\n+14155550103,"b",1\n',
     'Row 3: a quoted cell has more text after its closing quote (line 4). Close each quote where its cell '
     'ends, and double a quote inside a quoted cell ("").'),
])
def test_a_quote_that_is_not_closed_refuses_the_file_naming_its_row(text, message):
    with pytest.raises(parser.FileError) as err:
        _table(text)
    assert err.value.message == message and err.value.field == "file"


def test_a_quoted_cell_over_several_lines_still_reads():
    table = _table('number,description,monthly_price\n+14155550101,"two\nlines",1\n+14155550102,b,1\n')
    assert [(n, cells[1]) for n, cells in table.rows] == [(2, "two\nlines"), (3, "b")]


def test_an_unclosed_quote_in_a_large_file_names_its_row():
    rows = "".join(f"+1415{i:07d},x,1\n" for i in range(20_000))
    text = f'number,description,monthly_price\n+14155550101,"open,1\n{rows}'
    with pytest.raises(parser.FileError, match=r"^Row 2: a quote opens a cell and is never closed"):
        _table(text)


def test_nul_and_control_characters_are_stripped_from_every_text_cell(app):
    with app.app_context():
        _balance(0)
        factories.make_voice_trunk(name="Main SIP")
        report = _check(
            "number,country,region,city,number_type,features,voice_route,order_reference,billing_cycles,"
            "monthly_price,description\n"
            "+1415\x00555\x1b0101,U\x00S,Cali\x07fornia,San\x00 Francisco,lo\x7fcal,voice\x00_in,Main\x00 SIP,"
            "PO\x00-7,1\x002,1.\x0050,a\x00b\n")
        (row,) = report.rows
        assert row.messages == []
        spec = row.spec
        assert (row.number, spec.country, spec.region, spec.city, spec.number_type, spec.order_reference) == (
            "+14155550101", "US", "California", "San Francisco", "local", "PO-7")
        assert (spec.voice_route_id is not None, spec.billing_cycles_count, spec.monthly_price_minor,
                spec.description) == (True, 12, 150, "ab")


def test_control_characters_in_an_unknown_value_are_not_echoed(app):
    with app.app_context():
        _balance(0)
        report = _check("number,number_type,monthly_price\n+14155550101,land\x00\x1b[31mline,1\n")
        assert _messages(report) == ["Row 2: unknown number type 'land[31mline'."]
