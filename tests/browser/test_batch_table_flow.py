"""Issue 11's walk, as a new user would, from the table: filter Not configured in one country →
"Select all N matching" → Apply configuration profile → the preview shows changes and skips with
reasons → confirm → the summary counts match → the table shows the new routes and the counts moved
→ undo → every number is back as it was, field by field, and the history holds the batch's rows and
the undo's rows."""
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import AuditEvent, Batch, ConfigurationProfile, Number, VoiceRoute
from tests import factories as f

pytestmark = pytest.mark.browser
# what an undo may move: bookkeeping, not the number's own fields
BOOKKEEPING = {"version", "updated_at", "updated_by"}


def _rows(app) -> dict:
    with app.app_context():
        columns = [c.name for c in Number.__table__.columns if c.name not in BOOKKEEPING]
        rows = {r.number: dict(r._mapping) for r in db.session.execute(
            sa.select(*(Number.__table__.c[c] for c in columns)))}
        db.session.remove()
    return rows


def test_apply_a_profile_to_all_matching_then_undo(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        trunk = f.make_voice_trunk(name="sip-berlin")
        db.session.add(ConfigurationProfile(name="Berlin office", voice_route_id=trunk.id))
        for i in range(29):  # more than a page of 25: "Select all matching" is needed
            f.make_number(number=f"+49305550{100 + i}", country="DE", region="Berlin", city="Berlin")
        f.make_number(number="+4930555019", country="DE", features=("sms_in",))  # not configured, no voice
        f.make_number(number="+14155550177")                                    # another country
        db.session.commit()
        db.session.remove()
    before = _rows(live_app)

    page.goto(live + "/numbers?status=not_configured&country=DE&per_page=25")
    counts = page.locator("#counts")
    expect(counts.locator(".qf-not_configured .count")).to_have_text("31")
    page.get_by_label("Select every row on this page").check()
    page.get_by_role("button", name="Select all 30 matching this filter").click()
    expect(page.locator("#selection-banner")).to_have_text("All 30 matching numbers are selected. Clear selection.")
    bar = page.locator("#batch-bar")
    bar.locator("summary").click()
    bar.get_by_role("link", name="Apply configuration profile…").click()
    dialog = page.locator("#batch-dialog")
    expect(dialog).to_contain_text("30 numbers selected (all matching the filter)")
    dialog.get_by_label("Profile").select_option(label="Berlin office")
    dialog.get_by_role("button", name="Preview").click()

    expect(page.get_by_text(re.compile(r"29 will change"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("1 skipped")
    expect(page.locator("main")).to_contain_text("Skipped 1: ")  # the reason, grouped with its count
    expect(page.get_by_text("Apply profile Berlin office to 29 numbers?")).to_be_visible()
    assert _rows(live_app) == before  # the preview writes nothing to numbers
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("29 changed")).to_be_visible()

    page.goto(live + "/numbers?country=DE&sort=number")
    expect(counts.locator(".qf-not_configured .count")).to_have_text("2")  # the SMS-only one and the US one
    expect(page.locator("#numbers-table tbody")).to_contain_text("sip-berlin")
    changed = _rows(live_app)
    assert sum(1 for n, r in changed.items() if r["voice_route_id"] == trunk_id(live_app)) == 29

    with live_app.app_context():
        batch_id = db.session.scalar(sa.select(Batch.id).where(Batch.action == "apply_profile"))
        db.session.remove()
    page.goto(live + f"/batches/{batch_id}")
    page.get_by_role("button", name="Undo…").click()
    page.get_by_role("button", name="Undo 29 changes").click()
    expect(page.get_by_text(re.compile(r"B-\d{6} undone\."))).to_be_visible()
    assert _rows(live_app) == before  # every field of every number as it was

    with live_app.app_context():
        history = db.session.execute(sa.select(AuditEvent.batch_id, sa.func.count()).where(
            AuditEvent.object_type == "number", AuditEvent.batch_id.is_not(None)).group_by(AuditEvent.batch_id)).all()
        db.session.remove()
    assert sorted(count for _, count in history) == [29, 29]  # the batch's rows and the undo's rows


def trunk_id(app) -> int:
    with app.app_context():
        value = db.session.scalar(sa.select(VoiceRoute.id).where(VoiceRoute.name == "sip-berlin"))
        db.session.remove()
    return value


def test_exporting_800_rows_picked_one_by_one_posts_them(live_app, live, page, first_admin):
    """800 ids make a ~5 KB URL, past the request-line limit: the bar's Export posts them (with the
    page's CSRF token) and the CSV downloads with all 800, in the table's sort; the page stays."""
    first_admin()
    with live_app.app_context():
        db.session.execute(sa.insert(Number), [dict(
            number=f"+1212{i:07d}", country="US", region="NY", city="New York", number_type="local", features=1,
            capacity_mode="two_included", channels_included=2, monthly_price_minor=150) for i in range(801)])
        db.session.commit()
        rows = db.session.execute(sa.select(Number.id, Number.number).order_by(Number.id)).all()
        db.session.remove()
    picked = rows[:800]
    page.goto(live + "/numbers?sort=-number")
    page.evaluate("""ids => sessionStorage.setItem("did.numbers.selection",
        JSON.stringify({mode: "ids", ids: ids, filter: "", filterKey: "", total: 0}))""", [r.id for r in picked])
    page.reload()
    bar = page.locator("#batch-bar")
    expect(bar).to_contain_text("800 selected")
    bar.locator("summary").click()
    with page.expect_request(lambda r: r.url.endswith("/batches/export.csv") and r.method == "POST") as sent, \
            page.expect_download() as download:
        bar.get_by_role("link", name="Export").click()
    assert "csrf_token=" in sent.value.post_data and "sort=-number" in sent.value.post_data
    lines = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    exported = [line.split(",")[0] for line in lines[1:]]
    assert exported == sorted((r.number for r in picked), reverse=True)
    expect(page).to_have_url(re.compile(r"/numbers\?sort=-number$"))
    expect(bar).to_contain_text("800 selected")
