"""An operator adds a range of 20 numbers with a rule in place: the preview names the rule, the
confirm charges the balance and the numbers carry the profile's voice route."""
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.audit import Actor
from did_app.configuration import profiles_service
from did_app.db import db
from did_app.models import LedgerEntry, Number, Order, Workspace
from tests import factories as f

pytestmark = pytest.mark.browser
CLI = Actor(None, "cli", "cli")


def test_add_a_range_with_a_rule_then_find_it_by_order(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        db.session.scalar(sa.select(Workspace)).balance_minor = 100_00
        db.session.commit()
        trunk_id = f.make_voice_trunk(name="sip-sf").id
        profile = profiles_service.create_profile(CLI, name="SF office", voice_route_id=trunk_id)
        profiles_service.create_rule(CLI, name="US local", profile_id=profile.id, countries=["US"],
                                     number_types=["local"])

    # step 1: the Range tab swaps in place; a refused range stays on the form, under the field
    page.goto(live + "/numbers/add")
    page.get_by_role("link", name="Range", exact=True).click()
    expect(page).to_have_url(re.compile(r"/numbers/add\?tab=range$"))
    page.get_by_label("First number").fill("+1 415 555 0100")
    page.get_by_label("Last number").fill("+44 20 7183 8750")
    page.get_by_label("Monthly price").fill("1.50")
    page.get_by_label("Setup price").fill("0.50")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#last-error")).to_have_text("First and last must have the same country code and length.")
    page.get_by_label("Last number").fill("+1 415 555 0119")
    page.get_by_role("button", name="Preview").click()

    # step 2: the summary, and every row names the rule and its profile
    expect(page.locator("#preview-summary")).to_have_text(
        "20 to add, 0 skipped, 0 with errors. Charge $40.00 (setup $10.00 + first month $30.00). "
        "Balance $100.00 → $60.00.")
    rows = page.locator("table.intake-preview tbody tr")
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("US local → SF office")
    expect(rows.first).to_contain_text("add")

    # step 3: confirm lands on My Numbers filtered by the new order
    page.get_by_role("button", name="Confirm and add 20 numbers").click()
    # the reference comes from the order's id: PostgreSQL's sequence keeps counting across tests
    expect(page).to_have_url(re.compile(r"/numbers\?order=ORD-\d{6}$"))
    with live_app.app_context():
        ref = db.session.scalar(sa.select(Order.reference))
    expect(page).to_have_url(re.compile(rf"/numbers\?order={ref}$"))
    expect(page.get_by_text(f"20 numbers added ({ref}).")).to_be_visible()
    table_rows = page.locator("table.numbers tbody tr")
    expect(table_rows).to_have_count(20)
    expect(table_rows.first.locator("td.col-voice")).to_contain_text("sip-sf")
    expect(page.locator(".topbar .balance")).to_contain_text("$60.00")
    with live_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Number.id)).where(Number.voice_route_id == trunk_id)) == 20
        charges = db.session.scalars(sa.select(LedgerEntry.amount_minor)).all()
        assert charges == [-200] * 20
        assert db.session.scalar(sa.select(Workspace.balance_minor)) == 60_00

    # the order page adds it up and links back to the numbers
    page.goto(live + "/orders")
    page.get_by_role("link", name=ref, exact=True).click()
    expect(page.locator("dl.facts")).to_contain_text("$40.00")
    page.get_by_role("button", name="Show its numbers in My Numbers").click()
    expect(page).to_have_url(re.compile(rf"/numbers\?order={ref}$"))
