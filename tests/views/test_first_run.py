"""First run and Settings with a locked currency, the reference lists, the favicon (issue 8 §1, §6)."""
import re

import sqlalchemy as sa

from did_app import reference_lists
from did_app.db import db
from did_app.models import LedgerEntry, User, Workspace
from did_app.workspace import ensure_workspace
from tests.conftest import login

PASSWORD = "correct horse battery staple"


def _lock_currency(app, **workspace):
    """A workspace whose ledger has a row, as after `seed-demo`."""
    with app.app_context():
        ws = ensure_workspace(db.session)
        for key, value in workspace.items():
            setattr(ws, key, value)
        db.session.add(LedgerEntry(kind="top_up", amount_minor=1000, balance_after_minor=1000, note="demo"))
        db.session.commit()


def _posted_fields(html: str, form_action: str) -> dict:
    """What a browser posts for the form: named, enabled controls only, at their shown values."""
    form = re.search(rf'<form[^>]*action="{re.escape(form_action)}"[^>]*>(.*?)</form>', html, re.S).group(1)
    data = {}
    for tag in re.finditer(r"<input\b[^>]*>", form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(0)))
        if "name" in attrs and "disabled" not in tag.group(0) and attrs.get("type") != "checkbox":
            data[attrs["name"]] = attrs.get("value", "")
    for select in re.finditer(r'<select\b([^>]*)>(.*?)</select>', form, re.S):
        if "disabled" in select.group(1):
            continue
        name = re.search(r'name="([^"]+)"', select.group(1)).group(1)
        chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select.group(2))
        data[name] = next(v for v in chosen.groups() if v is not None) if chosen else ""
    return data


def test_setup_succeeds_with_the_currency_locked_and_posted_by_no_control(app, client):
    _lock_currency(app, currency="EUR")
    page = client.get("/setup").get_data(as_text=True)
    assert "Locked: the ledger already has entries." in page
    assert 'name="currency"' not in page  # nothing for the browser to post
    data = _posted_fields(page, "/setup")
    data.update(display_name="Ada Admin", email="ada@example.com", password=PASSWORD, confirm=PASSWORD)
    response = client.post("/setup", data=data)
    assert response.status_code == 302 and response.headers["Location"].endswith("/numbers")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        assert db.session.scalar(sa.select(Workspace.currency)) == "EUR"


def test_a_posted_currency_cannot_change_a_locked_one(app, client):
    _lock_currency(app, currency="EUR")
    data = _posted_fields(client.get("/setup").get_data(as_text=True), "/setup")
    data.update(display_name="Ada Admin", email="ada@example.com", password=PASSWORD, confirm=PASSWORD,
                currency="USD")
    assert client.post("/setup", data=data).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(Workspace.currency)) == "EUR"


def test_settings_saved_unchanged_after_the_first_charge_clears_the_banner(app, client):
    _lock_currency(app)
    login(client, role="admin")
    assert "Please review the workspace settings" in client.get("/numbers").get_data(as_text=True)
    page = client.get("/settings").get_data(as_text=True)
    response = client.post("/settings", data=_posted_fields(page, "/settings"))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "Please review the workspace settings" not in client.get("/numbers").get_data(as_text=True)


def test_stored_values_no_longer_listed_stay_selectable_and_save_unchanged(app, client):
    _lock_currency(app, currency="ADP", time_zone="US/Eastern", default_country="EU")
    login(client, role="admin")
    page = client.get("/settings").get_data(as_text=True)
    assert "US/Eastern (current, no longer listed)" in page
    assert "EU (current, no longer listed)" in page
    assert "ADP — Andorran Peseta" in page  # locked: shown as text
    data = _posted_fields(page, "/settings")
    assert data["time_zone"] == "US/Eastern" and data["default_country"] == "EU"
    assert client.post("/settings", data=data).status_code == 302
    with app.app_context():
        ws = db.session.scalar(sa.select(Workspace))
        assert (ws.currency, ws.time_zone, ws.default_country) == ("ADP", "US/Eastern", "EU")


def test_unlocked_setup_offers_only_current_currencies_real_countries_and_canonical_zones(client):
    page = client.get("/setup").get_data(as_text=True)
    assert 'value="USD" selected' in page or 'selected value="USD"' in page
    for absent in ("Andorran Peseta", "Pseudo-Accents", "European Union", "United Nations", ">Factory<",
                   ">US/Eastern<", ">Asia/Calcutta<"):
        assert absent not in page, absent
    for present in ("EUR — Euro", "United States", "Europe/Kyiv", "America/New_York", ">UTC<"):
        assert present in page, present


def test_the_lists_come_from_babel_and_phonenumbers():
    assert {"USD", "EUR", "JPY", "GBP"} <= reference_lists.CURRENCY_CODES
    assert not {"ADP", "DEM", "XXX", "XTS"} & reference_lists.CURRENCY_CODES
    assert not {"XA", "XB", "EU", "UN", "EZ", "ZZ", "QO"} & reference_lists.COUNTRY_CODES
    assert {"US", "GB", "SG", "DE"} <= reference_lists.COUNTRY_CODES
    assert "Factory" not in reference_lists.TIME_ZONE_NAMES and "Etc/Unknown" not in reference_lists.TIME_ZONE_NAMES


def test_an_unknown_currency_is_refused_next_to_the_field(app, client):
    page = client.get("/setup").get_data(as_text=True)
    data = _posted_fields(page, "/setup")
    data.update(display_name="Ada Admin", email="ada@example.com", password=PASSWORD, confirm=PASSWORD,
                currency="ADP")
    response = client.post("/setup", data=data)
    assert response.status_code == 422
    assert re.search(r'id="currency-error"[^>]*>Not a valid choice', response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_settings_hints_and_errors_sit_inside_their_fields_box(app, client):
    login(client, role="admin")
    page = client.get("/settings").get_data(as_text=True)
    data = _posted_fields(page, "/settings")
    data.update(critical_days="9", warn_days="7")
    html = client.post("/settings", data=data).get_data(as_text=True)
    box = re.search(r'<div class="field">\s*<label for="critical_days">.*?</div>', html, re.S).group(0)
    assert "Fewer than the warn days." in box and "Critical days must be fewer than warn days." in box
    assert 'aria-describedby="critical_days-hint critical_days-error"' in box


def test_favicon_is_served_without_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header


def test_settings_refuse_non_ascii_digits_next_to_the_field(app, client):
    login(client, role="admin")
    data = _posted_fields(client.get("/settings").get_data(as_text=True), "/settings")
    data.update(warn_days="١٢")
    response = client.post("/settings", data=data)
    assert response.status_code == 422
    assert re.search(r'id="warn_days-error"[^>]*>Enter 1–90 days.', response.get_data(as_text=True))


def test_settings_saved_from_a_stale_form_are_refused_with_the_current_values(app, client):
    login(client, role="admin")
    data = _posted_fields(client.get("/settings").get_data(as_text=True), "/settings")
    other = app.test_client()
    login(other, role="admin")
    theirs = _posted_fields(other.get("/settings").get_data(as_text=True), "/settings")
    assert other.post("/settings", data=theirs | {"workspace_name": "Renamed"}).status_code == 302
    response = client.post("/settings", data=data | {"workspace_name": "Mine"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "changed by someone else" in page and 'value="Renamed"' in page
    assert client.post("/settings", data={k: v for k, v in data.items() if k != "version"}).status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(Workspace.name)) == "Renamed"


def test_a_user_edit_from_a_stale_form_is_refused(app, client):
    login(client, role="admin")
    target = login(app.test_client(), role="operator")
    data = _posted_fields(client.get(f"/users/{target}").get_data(as_text=True), f"/users/{target}")
    first = client.post(f"/users/{target}", data=data | {"display_name": "First", "active": "y"})
    assert first.status_code == 302
    stale = client.post(f"/users/{target}", data=data | {"display_name": "Second", "active": "y"})
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, target).display_name == "First"
