"""The details page after an action, as a user sees it: the header balance and History follow at once,
and a readiness fix preselects what most numbers of the country use (issue 8 §6)."""
import os

import pytest
from playwright.sync_api import expect

from did_app.db import db
from did_app.workspace import ensure_workspace
from tests import factories as f

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("DETAIL_SCREENSHOTS")  # a folder: save before/after screenshots there


def _shot(page_or_section, name):
    if SHOTS:
        extra = {"full_page": True} if hasattr(page_or_section, "goto") else {}
        page_or_section.screenshot(path=os.path.join(SHOTS, name), **extra)


def test_renew_updates_the_header_balance_and_history_without_a_reload(live_app, live, page, first_admin):
    with live_app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 10_000
        db.session.commit()
        trunk = f.make_voice_trunk(name="sip-main")
        f.make_number(number="+14155550042", voice_route_id=trunk.id, monthly_price_minor=150)
    first_admin()
    page.goto(live + "/numbers/14155550042")
    balance, history = page.locator("#header-balance"), page.locator("#history")
    expect(balance).to_have_text("$100.00")
    expect(history).not_to_contain_text("number.renewed")
    page.evaluate("window.notReloaded = true")  # gone if the page reloads
    _shot(page, "detail-before-renew.png")

    billing = page.locator("#billing")
    billing.get_by_text("Renew…").click()
    billing.get_by_label("3 months — $4.50", exact=False).check()
    billing.get_by_role("button", name="Renew and charge").click()
    expect(page.locator("#flash")).to_contain_text("Renewed until")
    expect(balance).to_have_text("$95.50")
    expect(history).to_contain_text("number.renewed")
    expect(page.locator("#balance")).to_have_count(1)
    expect(page.locator("#history")).to_have_count(1)
    assert page.evaluate("window.notReloaded") is True
    _shot(page, "detail-after-renew.png")


def test_the_capacity_fix_preselects_the_country_habit_and_choose_is_refused(live_app, live, page, first_admin):
    with live_app.app_context():
        trunk = f.make_voice_trunk(name="sip-main")
        pool = f.make_pool(countries=("US", "CA"), name="North America pool")
        f.make_capacity_group(pool=pool, name="Canada")
        sales = f.make_capacity_group(pool=pool, name="US sales")
        for i in range(3):
            f.make_number(number=f"+1312555010{i}", voice_route_id=trunk.id, capacity_group_id=sales.id)
        f.make_number(number="+13125550199", city="Chicago", voice_route_id=trunk.id,
                      capacity_mode="zero_included", channels_included=0)
        f.make_number(number="+14165550100", country="CA", city="Toronto", voice_route_id=trunk.id,
                      capacity_mode="zero_included", channels_included=0)
    first_admin()
    page.goto(live + "/numbers/13125550199")
    readiness = page.locator("#readiness")
    group = readiness.get_by_label("Capacity group")
    expect(group.locator("option:checked")).to_have_text("US sales (used by most US numbers)")
    _shot(readiness, "detail-fix-preselected.png")
    readiness.get_by_role("button", name="Add to capacity group…").click()
    expect(page.locator("#number-header .badge")).to_have_text("Active")

    # no Canadian number has a group yet: nothing is preselected and the browser asks for a choice
    page.goto(live + "/numbers/14165550100")
    group = page.locator("#readiness").get_by_label("Capacity group")
    expect(group.locator("option:checked")).to_have_text("Choose…")
    page.locator("#readiness").get_by_role("button", name="Add to capacity group…").click()
    assert group.evaluate("el => el.validity.valueMissing") is True
    expect(page.locator("#number-header .badge")).to_have_text("Not configured")
    _shot(page.locator("#readiness"), "detail-fix-choose.png")
