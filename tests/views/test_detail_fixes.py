"""Details page: what the readiness fixes preselect and offer (issue 8 §6), and the header balance
and History section swapped out of band after a lifecycle action."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from did_app import clock
from did_app.db import db
from did_app.models import AuditEvent, Number
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import HX, login

_seq = iter(range(1000, 10_000))


def _us(**kw):
    return f.make_number(number=f"+1312555{next(_seq):04d}", country="US", city="Chicago", **kw)


def _gb(**kw):
    return f.make_number(number=f"+4420718{next(_seq):04d}", country="GB", region=None, city="London", **kw)


def _select(html: str, select_id: str) -> list[tuple[str, str, bool]]:
    """The (value, label, selected) options of one <select> of the page."""
    m = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert m, f"no select #{select_id} on the page"
    return [(value, label.strip(), bool(sel)) for value, sel, label in
            re.findall(r'<option value="([^"]*)"( selected)?[^>]*>([^<]*)</option>', m.group(1))]


def _selected(options):
    return [(value, label) for value, label, sel in options if sel]


def _page(client, digits):
    response = client.get(f"/numbers/{digits}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# ---------------------------------------------------------------- preselection (a)

def test_voice_fix_preselects_the_trunk_most_numbers_of_the_country_use(app, client):
    login(client, "operator")
    with app.app_context():
        amsterdam, us_trunk = f.make_voice_trunk(name="3CX Amsterdam"), f.make_voice_trunk(name="US Trunk")
        for _ in range(3):
            _us(voice_route_id=us_trunk.id)
        _us(voice_route_id=amsterdam.id)
        for _ in range(6):  # another country's habits do not count
            _gb(voice_route_id=amsterdam.id)
        digits, us_id = _us().digits, us_trunk.id
    options = _select(_page(client, digits), "fix-voice")
    assert _selected(options) == [(str(us_id), "US Trunk (used by most US numbers)")]
    assert options[0][:2] == ("", "Choose…")


def test_capacity_fix_preselects_the_group_most_numbers_of_the_country_use(app, client):
    login(client, "operator")
    with app.app_context():
        pool = f.make_pool(countries=("US", "CA"), name="North America pool")
        canada = f.make_capacity_group(pool=pool, name="Canada")
        sales = f.make_capacity_group(pool=pool, name="US sales")
        for _ in range(2):
            _us(capacity_group_id=sales.id)
        for _ in range(3):
            f.make_number(number=f"+1416555{next(_seq):04d}", country="CA", capacity_group_id=canada.id)
        digits = _us(capacity_mode="zero_included", channels_included=0).digits
        sales_id = sales.id
    options = _select(_page(client, digits), "fix-group")
    assert _selected(options) == [(str(sales_id), "US sales (used by most US numbers)")]


@pytest.mark.parametrize("others", [0, 2], ids=["no other numbers", "no majority"])
def test_no_majority_preselects_nothing(app, client, others):
    login(client, "operator")
    with app.app_context():
        pool = f.make_pool(countries=("US",))
        groups = [f.make_capacity_group(pool=pool, name=f"Group {i}") for i in range(2)]
        trunks = [f.make_voice_trunk(name=f"Trunk {i}") for i in range(2)]
        for i in range(others):  # one number on each: a tie is no majority
            _us(voice_route_id=trunks[i].id, capacity_group_id=groups[i].id)
        digits = _us(capacity_mode="zero_included", channels_included=0).digits
    html = _page(client, digits)
    for select_id in ("fix-voice", "fix-group"):
        options = _select(html, select_id)
        assert _selected(options) == [("", "Choose…")], select_id
        assert "used by most" not in html
    assert len(_select(html, "fix-voice")) == 3 and len(_select(html, "fix-group")) == 3


def test_a_majority_route_that_cannot_fix_the_check_is_not_preselected(app, client):
    """Most US numbers sit in an SMS group whose trunks are now all blocked: not offered, not preselected."""
    login(client, "operator")
    with app.app_context():
        blocked_group = f.make_sms_group(members=[f.make_sms_trunk(name="old-1", blocked=True)], name="Old SMS")
        f.make_sms_trunk(name="crm-webhook")
        for _ in range(3):
            _us(features=("voice_in", "sms_in"), sms_route_id=blocked_group.id)
        digits = _us(features=("voice_in", "sms_in")).digits
    options = _select(_page(client, digits), "fix-sms")
    assert [label for _, label, _ in options] == ["Choose…", "crm-webhook"]
    assert _selected(options) == [("", "Choose…")]


def test_groups_that_cannot_carry_traffic_are_not_offered(app, client):
    login(client, "operator")
    with app.app_context():
        f.make_voice_group(name="Empty voice group")
        f.make_voice_group(members=[f.make_voice_trunk(name="sip-a")], name="Voice group")
        f.make_sms_group(members=[f.make_sms_trunk(name="sms-b1", blocked=True),
                                  f.make_sms_trunk(name="sms-b2", blocked=True)], name="All blocked")
        f.make_sms_group(name="Empty SMS group")
        f.make_sms_group(members=[f.make_sms_trunk(name="sms-x", blocked=True), f.make_sms_trunk(name="sms-ok")],
                         name="One active")
        pool = f.make_pool(countries=("US",))
        f.make_capacity_group(pool=pool, name="Usable")
        f.make_capacity_group(pool=f.make_pool(countries=("GB",)), name="UK only")
        digits = _us(features=("voice_in", "sms_in"), capacity_mode="zero_included", channels_included=0).digits
    html = _page(client, digits)
    assert [label for _, label, _ in _select(html, "fix-voice")] == ["Choose…", "sip-a", "Voice group (group)"]
    assert [label for _, label, _ in _select(html, "fix-sms")] == ["Choose…", "sms-ok", "One active (group)"]
    assert [label for _, label, _ in _select(html, "fix-group")] == ["Choose…", "Usable"]
    # the full route editor still lists every route (numbers.md §7.2)
    assert "Empty voice group" in html and "All blocked" in html


@pytest.mark.parametrize("field, message", [
    ("voice_route_id", "Choose a voice trunk or trunk group."),
    ("sms_route_id", "Choose an SMS trunk or SMS trunk group."),
    ("capacity_group_id", "Choose a capacity group."),
])
def test_submitting_choose_is_refused_next_to_the_select_and_writes_nothing(app, field, message):
    with app.app_context():
        f.make_voice_trunk()
        f.make_sms_trunk()
        f.make_capacity_group(pool=f.make_pool(countries=("US",)))
        n = _us(features=("voice_in", "sms_in"), capacity_mode="zero_included", channels_included=0)
        number_id, digits = n.id, n.digits
    client = app.test_client()
    login(client, "operator")
    hx = HX(client)
    hx.load_token()
    response = hx.post(f"/numbers/{digits}/sections/fix", data={"version": "1", field: ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<small id="{field}-error" class="field-error">{message}</small>' in body
    with app.app_context():
        assert db.session.get(Number, number_id).version == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "number.updated")) == 0


def test_the_profile_fix_preselects_nothing(app, client):
    from did_app.models import ConfigurationProfile

    login(client, "operator")
    with app.app_context():
        db.session.add_all([ConfigurationProfile(name="A profile"), ConfigurationProfile(name="B profile")])
        db.session.commit()
        digits = _us().digits
    assert _selected(_select(_page(client, digits), "fix-profile")) == [("", "Choose…")]


# ---------------------------------------------------------------- out-of-band balance and history (b)

@pytest.fixture
def number(app):
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 1000
        db.session.commit()
        n = f.make_number(monthly_price_minor=150)
        return {"id": n.id, "digits": n.digits}


def _hx(app):
    client = app.test_client()
    login(client, "operator")
    hx = HX(client)
    hx.load_token()
    return hx


def _oob_balance(body: str) -> str:
    m = re.search(r'<li id="balance" class="balance"[^>]*hx-swap-oob="true"[^>]*>.*?</li>', body, re.S)
    assert m, "no out-of-band balance in the response"
    return m.group(0)


def _oob_history(body: str) -> str:
    m = re.search(r'<section id="history" class="card" hx-swap-oob="true">.*?</section>', body, re.S)
    assert m, "no out-of-band History section in the response"
    return m.group(0)


def _version(app, number_id):
    with app.app_context():
        return str(db.session.get(Number, number_id).version)


def test_renew_swaps_the_balance_and_history_out_of_band(app, number):
    hx = _hx(app)
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/renew", data={"version": "1", "months": "3"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<strong id="header-balance">$5.50</strong>' in _oob_balance(body)
    assert "<code>number.renewed</code>" in _oob_history(body)


def test_cancel_and_restore_swap_the_history_and_balance_out_of_band(app, number):
    hx = _hx(app)
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/cancel", data={"version": "1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<code>number.cancelled</code>" in _oob_history(body)
    assert '<strong id="header-balance">$10.00</strong>' in _oob_balance(body)
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/restore",
                       data={"version": _version(app, number["id"])})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<code>number.restored</code>" in _oob_history(body)
    assert '<strong id="header-balance">$10.00</strong>' in _oob_balance(body)


def test_a_charged_restore_shows_the_new_balance(app, clock, number):
    hx = _hx(app)
    assert hx.post(f"/numbers/{number['digits']}/lifecycle/cancel", data={"version": "1"}).status_code == 200
    with app.app_context():  # paid time runs out while the number is cancelled
        n = db.session.get(Number, number["id"])
        n.expires_at = clock.now() - timedelta(days=1)
        db.session.commit()
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/restore",
                       data={"version": _version(app, number["id"])})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Charged $1.50." in body
    assert '<strong id="header-balance">$8.50</strong>' in _oob_balance(body)


def test_remove_and_refund_reloads_into_a_page_with_the_new_balance(app, number):
    hx = _hx(app)
    assert hx.post(f"/numbers/{number['digits']}/lifecycle/renew",
                   data={"version": "1", "months": "1"}).status_code == 200  # paid $1.50: balance $8.50
    with app.app_context():
        n = db.session.get(Number, number["id"])
        n.needs_registration, n.awaiting_registration = True, True
        n.registration_deadline_at = clock.now() + timedelta(days=10)
        db.session.commit()
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/remove",
                       data={"version": _version(app, number["id"])})
    assert response.headers.get("HX-Redirect") == "/numbers"  # htmx loads the whole page: nothing stale
    html = hx.client.get("/numbers").get_data(as_text=True)
    assert '<strong id="header-balance">$10.00</strong>' in html and "$1.50 refunded" in html


def test_the_full_page_has_one_balance_and_one_history_and_neither_is_out_of_band(app, client, number):
    login(client, "operator")
    html = _page(client, number["digits"])
    assert html.count('id="balance"') == 1 and html.count('id="history"') == 1
    assert 'hx-swap-oob' not in html
