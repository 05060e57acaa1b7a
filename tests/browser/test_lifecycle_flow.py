"""Cancel a number on its details page and restore it (lifecycle.md §7), as a user does it."""
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import Number
from did_app.workspace import ensure_workspace
from tests import factories as f

pytestmark = pytest.mark.browser


def test_cancel_then_restore_on_the_details_page(live_app, live, page, first_admin):
    with live_app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 10_000
        db.session.commit()
        trunk = f.make_voice_trunk(name="sip-main")
        number_id = f.make_number(number="+14155550042", voice_route_id=trunk.id).id
    first_admin()
    page.goto(live + "/numbers/14155550042")
    billing = page.locator("#billing")

    billing.get_by_text("Cancel number…").click()
    expect(billing.get_by_text("There is no refund: paid time is kept")).to_be_visible()
    billing.get_by_role("button", name="Cancel number").click()
    expect(page.locator("#flash")).to_contain_text("Cancelled.")
    expect(page.locator("#number-header")).to_contain_text("Terminated")

    billing.get_by_text("Restore…").click()
    expect(billing.get_by_text("Free: paid time remains")).to_be_visible()
    billing.get_by_role("button", name="Restore number").click()
    expect(page.locator("#flash")).to_contain_text("Restored.")
    expect(billing.get_by_text("Cancel number…")).to_be_visible()
    with live_app.app_context():
        number = db.session.get(Number, number_id)
        assert number.cancelled_at is None and number.status == "active"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Number)) == 1
