"""Issue 9: the number edits go through forms with a required version; setup's refusal is its own exception."""
import pytest

from did_app import parsing
from did_app.audit import Actor
from did_app.auth import service as auth_service
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import Number
from did_app.numbers import edits
from tests import factories as f
from tests.conftest import HX, login


def test_setup_after_setup_raises_its_own_exception(app, client):
    login(client, "admin")  # a user exists from here on
    with app.app_context():
        with pytest.raises(auth_service.SetupComplete) as caught:
            auth_service.complete_setup(email="x@example.com", display_name="X", password="correct horse battery",
                                        confirm="correct horse battery", settings={})
        assert isinstance(caught.value, DomainError) and caught.value.message == "Setup is already complete."


@pytest.fixture
def number(app):
    with app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        pool = f.make_pool(countries=("US",), total=10, name="US pool")
        group = f.make_capacity_group(pool=pool, shared=2, name="US shared")
        n = f.make_number(capacity_mode="zero_included", channels_included=0, features=("voice_in", "sms_in"))
        return {"id": n.id, "digits": n.digits, "trunk": trunk.id, "group": group.id, "pool": pool.id}


def _hx(client, role="operator"):
    login(client, role)
    hx = HX(client)
    hx.load_token()
    return hx


def _version(app, number_id):
    with app.app_context():
        return db.session.get(Number, number_id).version


CELL_POSTS = [("description", {"value": "Sales"}), ("voice_route", {"value": ""}),
              ("capacity_limit", {"value": "5"}), ("renewal", {"mode": "zero"})]


@pytest.mark.parametrize(("field", "data"), CELL_POSTS, ids=[c[0] for c in CELL_POSTS])
def test_a_cell_edit_without_a_version_is_422_and_writes_nothing(app, client, number, field, data):
    response = _hx(client).post(f"/numbers/{number['id']}/cells/{field}", data=data)
    assert response.status_code == 422
    assert parsing.VERSION_MESSAGE in response.get_data(as_text=True)
    assert _version(app, number["id"]) == 1


SECTION_POSTS = [("general", {"description": "Sales"}), ("trunks", {"voice_route_id": ""}),
                 ("capacity", {"capacity_limit": "5"}), ("billing", {"mode": "zero"}),
                 ("fix", {"voice_route_id": "1"})]


@pytest.mark.parametrize(("section", "data"), SECTION_POSTS, ids=[s[0] for s in SECTION_POSTS])
def test_a_section_edit_without_a_version_is_422_and_writes_nothing(app, client, number, section, data):
    response = _hx(client).post(f"/numbers/{number['digits']}/sections/{section}", data=data)
    assert response.status_code == 422
    assert parsing.VERSION_MESSAGE in response.get_data(as_text=True)
    assert _version(app, number["id"]) == 1


@pytest.mark.parametrize("action", ["renew", "cancel", "restore", "remove"])
def test_a_lifecycle_action_without_a_version_is_422_and_writes_nothing(app, client, number, action):
    response = _hx(client).post(f"/numbers/{number['digits']}/lifecycle/{action}", data={"months": "1"})
    assert response.status_code == 422
    assert parsing.VERSION_MESSAGE in response.get_data(as_text=True)
    assert _version(app, number["id"]) == 1


def test_update_number_keeps_the_price_when_the_switch_asks_for_it(app, number):
    """The one-click switch posts no price: the form sends KEEP_PRICE and the service keeps today's price
    (a bare mode change without a price is still refused: tests/services/test_number_edits.py)."""
    with app.app_context():
        n = db.session.get(Number, number["id"])
        assert n.mode_can_switch  # a zero_included local number
        price = n.monthly_price_minor
        updated, _ = edits.update_number(Actor(), n.id, n.version, next_capacity_mode="two_included",
                                         next_monthly_price_minor=edits.KEEP_PRICE)
        assert updated.next_capacity_mode == "two_included" and updated.next_monthly_price_minor == price


def test_update_number_drops_the_pool_given_with_no_channels(app, number):
    with app.app_context():
        n = db.session.get(Number, number["id"])
        updated, _ = edits.update_number(Actor(), n.id, n.version, dedicated_channels=0,
                                         capacity_pool_id=999_999)  # a pool that doesn't exist: not checked
        assert updated.capacity_pool_id is None
