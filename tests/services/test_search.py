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


# ---- issue 8 §6: one entry with a letter, and a spaced invalid number --------------------------

def test_a_tel_prefix_and_a_heading_keep_a_list_a_number_search(app):
    text = "Number\ntel:+1 415 555 2671\nSIP:+44 20 7183 8750\n+14155552672"
    with app.app_context():
        plan = search.interpret(text, "US")
    assert plan.kind == "numbers"
    assert plan.numbers == ["+14155552671", "+442071838750", "+14155552672"]
    assert plan.unrecognised == ["Number"]


def test_letters_without_any_number_stay_a_description_search(app):
    with app.app_context():
        plan = search.interpret("room 101, floor 2; tel:12", "US")
    assert plan.kind == "description" and plan.words == ["room", "101,", "floor", "2;", "tel:12"]


def test_an_entry_with_letters_is_never_read_as_a_number(app):
    # phonenumbers alone would read these as +1 800 356 9377 and +1 415 555 2671
    with app.app_context():
        plan = search.interpret("1-800-FLOWERS\nabc+14155552671\n+14155552672", "US")
    assert plan.numbers == ["+14155552672"]
    assert plan.unrecognised == ["1-800-FLOWERS", "abc+14155552671"]


def test_a_spaced_invalid_number_is_one_unrecognised_item(app):
    with app.app_context():
        plan = search.interpret("+1 512 240 772\n+14155552671", "US")
        alone = search.interpret("+1 512 240 772", "US")
        assert search.split_items("+1 512 240 772", "US") == ["+1 512 240 772"]
    assert plan.numbers == ["+14155552671"] and plan.unrecognised == ["+1 512 240 772"]
    assert plan.item_count == 2
    # alone it is the search's one item, so a fragment search (step 3)
    assert alone.kind == "fragment" and alone.fragment == "1512240772"


def test_an_unrecognised_entry_is_reported_as_typed(app):
    with app.app_context():
        plan = search.interpret("(415) 555-12\n+14155552671", "US")
    assert plan.unrecognised == ["(415) 555-12"]


def test_an_item_over_64_characters_is_not_parsed_and_only_its_length_is_kept(app, monkeypatch):
    long_item = "4" * 70
    parsed = []
    real = search._readings.__wrapped__
    monkeypatch.setattr(search, "_readings", lambda item, country: parsed.append(item) or real(item, country))
    with app.app_context():
        plan = search.interpret(f"{long_item}\n+14155552671", "US")
    assert plan.numbers == ["+14155552671"]
    (shown,) = plan.unrecognised
    assert shown == "(an item of 70 characters)"
    assert long_item not in parsed


def test_many_description_words_are_capped_with_a_note(app):
    words = [f"w{i}" for i in range(3000)]
    with app.app_context():
        plan = search.interpret(" ".join(words + ["w1"]), "US")
    assert plan.kind == "description" and plan.words == words[:search.MAX_WORDS]
    assert plan.notes == [f"Searched for the first {search.MAX_WORDS} words only."]
