"""The shared parsers (did_app.parsing) and the WTForms fields on them (did_app.form_fields)."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, HiddenField
from wtforms.validators import InputRequired

from did_app import form_fields, money, parsing
from did_app.errors import DomainError

HUGE = "9" * 5000
BAD_NUMBERS = ["²", "①", "١٢", "1_000", "+5", "1.0", "1e3", "0x10", " ", "", "abc", "12a", HUGE, "\x00", "٣"]


@pytest.mark.parametrize("raw", BAD_NUMBERS + [None, 1.5, True, [], str(2**63)])
def test_query_int_refuses_what_int_or_the_database_cannot_take(raw):
    assert parsing.query_int(raw, 0, 2**63 - 1) is None


@pytest.mark.parametrize("raw, expected", [("0", 0), ("7", 7), (" 42 ", 42), ("\t9\n", 9), ("007", 7),
                                           (str(2**63 - 1), 2**63 - 1), (5, 5)])
def test_query_int_reads_ascii_digits(raw, expected):
    assert parsing.query_int(raw, 0, 2**63 - 1) == expected


def test_query_int_bounds_and_sign():
    assert parsing.query_int("-1", 0, 10) is None  # a minus sign only when negatives are allowed
    assert parsing.query_int("-1", -5, 10) == -1
    assert parsing.query_int("-6", -5, 10) is None
    assert parsing.query_int("11", 0, 10) is None
    assert parsing.query_int("10", 0, 10) == 10
    assert parsing.query_int("1" * 20, 0, 10**30) is None  # more than 19 digits never reach int()


@pytest.mark.parametrize("raw", ["0", "-1", str(2**31), str(2**63), "99999999999999999999", "²", HUGE, "", None])
def test_query_id_is_1_to_2_31_minus_1(raw):
    assert parsing.query_id(raw) is None


def test_query_id_and_version_accept_the_largest_integer_column_value():
    assert parsing.query_id(str(2**31 - 1)) == 2**31 - 1
    assert parsing.form_version("3") == 3
    assert parsing.form_version("²") is None
    assert parsing.form_version("0") == 0  # well-formed: a stale version (409), not an invalid one
    assert parsing.form_version(None) is None


@pytest.mark.parametrize("raw", ["9999-12-31", "9000-13-01", "1899-12-31", "0001-01-01", "2026-02-30",
                                 "２０２６-01-01", "2026-1-1", "20260101", "2026-01-01T00:00", " ", "", None,
                                 "-2026-01-01", HUGE])
def test_query_date_refuses_far_and_malformed_dates(raw):
    assert parsing.query_date(raw) is None


def test_query_date_window_leaves_room_for_arithmetic():
    assert parsing.query_date(" 2026-11-28 ") == date(2026, 11, 28)
    assert parsing.query_date("9000-12-31") == parsing.MAX_DATE
    assert parsing.query_date("1900-01-01") == parsing.MIN_DATE
    assert parsing.MAX_DATE + timedelta(days=366 * 10) > parsing.MAX_DATE  # no OverflowError


@pytest.mark.parametrize("raw", ["Infinity", "-inf", "NaN", "sNaN", "1e3", "1e999999", "١٢", "1,000", "1_000",
                                 "9" * 13, "9" * 5000, "", ".", "-", "0x10", None])
def test_query_decimal_refuses_what_quantize_or_a_bigint_cannot_take(raw):
    assert parsing.query_decimal(raw) is None


def test_query_decimal_reads_plain_decimals():
    assert [parsing.query_decimal(t) for t in ("12.50", " -3 ", ".5", "+1", "999999999999.999")] == [
        Decimal("12.50"), Decimal(-3), Decimal("0.5"), Decimal(1), Decimal("999999999999.999")]


@pytest.mark.parametrize("raw", ["Infinity", "1e30", "9" * 5000, "²"])
def test_money_parse_refuses_with_its_message(raw):
    with pytest.raises(DomainError) as err:
        money.parse(raw, "USD", "amount")
    assert (err.value.message, err.value.field) == ("Enter an amount such as 12.50.", "amount")


def test_ignored_item_cuts_long_values_and_control_characters():
    assert parsing.ignored_item("page", "²") == "page=²"
    item = parsing.ignored_item("page", HUGE)
    assert item.startswith("page=999") and item.endswith("…") and len(item) < 80
    assert parsing.ignored_item("q", "a\x00b") == "q=ab"


def test_query_args_names_every_refused_value():
    args = parsing.QueryArgs(MultiDict([("page", "²"), ("n", "5"), ("d", "9999-12-31"), ("k", "bogus"),
                                        ("blank", " "), ("t", "a\x00b" + "x" * 300), ("id", str(2**63))]))
    assert args.page() == 1
    assert args.number("n", 1, 10) == 5
    assert args.day("d") is None
    assert args.choice("k", ("add", "import")) == ""
    assert args.number("blank", 1, 10, 3) == 3  # blank is silent
    assert args.id("id") is None
    assert args.text("t", 5) == "abxxx"
    assert args.ignored == ["page=²", "d=9999-12-31", "k=bogus", f"id={2**63}"]
    assert args.notes()[0] == "Ignored unknown filter value: page=²"


def test_query_args_page_bounds():
    assert parsing.QueryArgs(MultiDict({"page": "3"})).page() == 3
    args = parsing.QueryArgs(MultiDict({"page": "0"}))
    assert args.page() == 1 and args.ignored == ["page=0"]
    assert parsing.QueryArgs(MultiDict({"page": str(parsing.MAX_PAGE + 1)})).page() == 1


# ---- WTForms fields ---------------------------------------------------------------------------

class _Form(Form):
    count = form_fields.BoundedIntegerField("Count", lo=0, hi=999, message="Enter 0–999.")
    pool_id = form_fields.IdField("Pool", choices=[("", "—"), (1, "one")])
    members = form_fields.IdListField("Members")
    day = form_fields.SafeDateField("Day")
    version = form_fields.VersionField()


def _form(**data):
    return _Form(MultiDict(data))


@pytest.mark.parametrize("raw", BAD_NUMBERS[:-5] + ["1000", "-1", HUGE])
def test_bounded_integer_field_refuses_with_its_message(raw):
    form = _form(count=raw)
    if raw.strip():
        assert not form.validate()
        assert form.count.errors == ["Enter 0–999."]
        assert form.count.data is None
        assert form.count._value() == raw  # the refused text is shown again for correction
    else:
        assert form.validate() and form.count.data is None


@pytest.mark.parametrize("raw", ["", " ", "\xa0", "\u3000"])
def test_a_required_bounded_integer_field_counts_whitespace_as_blank(raw):
    class Required(Form):
        count = form_fields.BoundedIntegerField("Count", lo=1, hi=9, message="Enter 1–9.",
                                                validators=[InputRequired("Enter a count.")])

    form = Required(MultiDict({"count": raw}))
    assert not form.validate() and form.count.errors == ["Enter a count."] and form.count.data is None


def test_bounded_integer_field_reads_a_number():
    form = _form(count=" 12 ")
    assert form.validate() and form.count.data == 12


@pytest.mark.parametrize("raw", ["²", "①", str(2**31), str(2**63), HUGE, "-3", "abc"])
def test_id_fields_refuse_what_is_no_id(raw):
    form = _form(pool_id=raw, members=raw)
    assert not form.validate()
    assert form.pool_id.errors == [form_fields.CHOOSE_MESSAGE]
    assert form.members.errors == [form_fields.CHOOSE_MESSAGE]
    assert form.pool_id.data is None


def test_id_fields_read_ids_and_blank():
    form = _Form(MultiDict([("pool_id", ""), ("members", "3"), ("members", "4")]))
    assert form.validate()
    assert form.pool_id.data is None and form.members.data == [3, 4]
    assert _form(pool_id=str(2**31 - 1)).pool_id.data == 2**31 - 1
    assert 'value="1"' in str(_Form(data={"pool_id": 1}).pool_id)  # renders its choices as before


@pytest.mark.parametrize("raw", ["9999-12-31", "２０２６-01-01", "2026-02-30", "1899-12-31", HUGE])
def test_safe_date_field_refuses_far_and_malformed_dates(raw):
    form = _form(day=raw)
    assert not form.validate()
    assert form.day.errors == [form_fields.DATE_MESSAGE]


def test_safe_date_field_reads_a_date_and_blank():
    assert _form(day="2026-12-01").day.data == date(2026, 12, 1)
    form = _form(day="")
    assert form.validate() and form.day.data is None


@pytest.mark.parametrize("raw", ["²", "", "-1", str(2**63), HUGE])
def test_version_of_refuses_a_missing_or_invalid_version(raw):
    form = _form(version=raw)
    assert form.validate()  # the field itself never fails: a create form posts none
    with pytest.raises(DomainError) as err:
        form_fields.version_of(form)
    assert err.value.message == parsing.VERSION_MESSAGE and err.value.field is None


def test_version_of_reads_the_version_of_any_hidden_field():
    assert form_fields.version_of(_form(version="7")) == 7

    class Plain(Form):
        version = HiddenField()

    assert form_fields.version_of(Plain(MultiDict({"version": "8"}))) == 8
    with pytest.raises(DomainError):
        form_fields.version_of(Plain(MultiDict({"version": "①"})))
