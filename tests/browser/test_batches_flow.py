"""A batch in a real browser (batch.md §2–§4): the voice-route inputs for every Not configured
number in Germany → preview with changes and skips → confirm → summary → undo, and every number
back as it was. The table's selection UI is built elsewhere: this starts from the dialog's URL."""
import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import AuditEvent, Number
from tests import factories as f

pytestmark = pytest.mark.browser
SHOTS = "/tmp/h11-engine-shots"


def _rows(app):
    with app.app_context():
        rows = {n.number: (n.voice_route_id, n.status) for n in db.session.scalars(sa.select(Number))}
        db.session.remove()
    return rows


def _shoot(page, name):
    for width in (1400, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})


def test_route_not_configured_german_numbers_then_undo(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        f.make_voice_trunk(name="sip-berlin")
        for i in range(3):
            f.make_number(number=f"+4930123456{i}", country="DE", region="Berlin", city="Berlin")
        f.make_number(number="+49301234569", country="DE", features=("sms_in",))  # SMS only: not configured, skipped
        f.make_number(number="+14155550199")  # another country: not selected
        db.session.remove()
    before = _rows(live_app)

    page.goto(live + "/batches/new?action=voice_route&filter=" + quote("status=not_configured&country=DE"))
    expect(page.get_by_text("4 numbers selected")).to_be_visible()
    _shoot(page, "new")
    page.get_by_label("Route").select_option(label="sip-berlin")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_text("3 will change")).to_be_visible()
    expect(page.get_by_text("Skipped 1: No inbound voice (1)")).to_be_visible()
    expect(page.get_by_text("Route 3 numbers to sip-berlin?")).to_be_visible()
    _shoot(page, "preview")
    assert _rows(live_app) == before  # the preview writes nothing to numbers
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_text("Batch applied.")).to_be_visible()
    expect(page.get_by_text("3 changed")).to_be_visible()
    expect(page.get_by_role("button", name="CSV of outcomes")).to_be_visible()
    _shoot(page, "summary")
    after = _rows(live_app)
    assert sum(1 for n, (route, status) in after.items() if route and status == "active") == 3

    page.get_by_role("button", name="Undo…").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Undo B-"))).to_be_visible()
    _shoot(page, "undo")
    page.get_by_role("button", name="Undo 3 changes").click()
    expect(page.get_by_text(re.compile(r"B-\d{6} undone\."))).to_be_visible()
    assert _rows(live_app) == before
    with live_app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "number.updated")).all()
        assert len(rows) == 6 and len({r.batch_id for r in rows}) == 2

    page.get_by_role("link", name="Batches", exact=True).click()
    expect(page.get_by_role("cell", name="Undone")).to_be_visible()
    _shoot(page, "index")
