"""Reading the search box (numbers.md §7.6)."""
from did_app.numbers import search
from tests import factories as f


def test_letters_make_a_description_search(app):
    with app.app_context():
        plan = search.interpret("sales  London", "US")
    assert plan.kind == "description" and plan.words == ["sales", "London"]


def test_mixed_formats_parse_and_deduplicate(app):
    text = "+1 415-555-2671\n(415) 555-2671, 0044 20 7183 8750;+44 (0)20 7183 8751\t14155552672"
    with app.app_context():
        plan = search.interpret(text, "US")
    assert plan.kind == "numbers"
    assert plan.numbers == ["+14155552671", "+442071838750", "+442071838751", "+14155552672"]
    assert plan.unrecognised == []


def test_unparseable_items_are_reported_raw(app):
    with app.app_context():
        plan = search.interpret("+14155552671, 12, +999123", "US")
    assert plan.numbers == ["+14155552671"]
    assert plan.unrecognised == ["12", "+999123"]


def test_national_reading_wins_when_only_it_is_in_the_inventory(app):
    # "4155552671" reads as +1 415… nationally (US) and as +41 55 552 671 internationally
    with app.app_context():
        f.make_number(number="+14155552671")
        plan = search.interpret("4155552671", "US")
    assert plan.numbers == ["+14155552671"]


def test_single_short_item_is_a_fragment_search(app):
    with app.app_context():
        plan = search.interpret("5552", "US")
        too_short = search.interpret("55", "US")
    assert plan.kind == "fragment" and plan.fragment == "5552"
    assert too_short.kind == "numbers" and too_short.unrecognised == ["55"]


def test_spaces_join_into_one_number_or_split_into_many(app):
    with app.app_context():
        one = search.interpret("+44 20 7183 8750", "US")
        many = search.interpret("+14155552671 +14155552672", "US")
    assert one.numbers == ["+442071838750"]
    assert many.numbers == ["+14155552671", "+14155552672"]


def test_more_than_ten_thousand_items_is_refused(app):
    text = "\n".join(f"+1415555{i:04d}" for i in range(10_001))
    with app.app_context():
        assert search.interpret(text, "US").too_many
