"""Paid and destructive batches in a real browser (batch.md §2–§3): Renew's preview shows its cost
and the balance after, confirm charges it; Cancel over 10 numbers needs the count typed."""
import os
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import Number, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f

pytestmark = pytest.mark.browser
SHOTS = "/tmp/h11-paid-shots"


def _shoot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    for width in (1400, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})


def test_renew_then_cancel_eleven_numbers(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        ensure_workspace(db.session)
        db.session.execute(sa.update(Workspace).values(balance_minor=10_000))
        db.session.commit()
        for i in range(11):
            f.make_number(number=f"+4930123456{i:02d}", country="DE", region="Berlin", city="Berlin")
        db.session.remove()

    page.goto(live + "/batches/new?action=renew&filter=" + quote("country=DE"))
    expect(page.get_by_text("11 numbers selected")).to_be_visible()
    page.get_by_label("Months").select_option("3")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Cost $49.50")).to_be_visible()
    expect(page.get_by_text("Renew 11 numbers for 3 months for $49.50? Balance after: $50.50.")).to_be_visible()
    _shoot(page, "renew-preview")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Paid actions can't be undone.")).to_be_visible()
    _shoot(page, "renew-summary")

    page.goto(live + "/batches/new?action=cancel&filter=" + quote("country=DE"))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("11 will change")).to_be_visible()
    page.get_by_label("Type 11 to confirm").fill("12")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#typed-count-error")).to_have_text("Type 11 to confirm.")
    _shoot(page, "cancel-typed")
    page.get_by_label("Type 11 to confirm").fill("11")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("11 changed")).to_be_visible()
    with live_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Number.cancelled_at.is_not(None))) == 11
        db.session.remove()
