"""Dedicated channels as a batch in a real browser (batch.md §3): inputs → preview with a skip and
the net channels in the confirmation → confirm → the numbers hold the pool's channels."""
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from did_app.db import db
from did_app.models import Number
from tests import factories as f

pytestmark = pytest.mark.browser
SHOTS = "/tmp/h11-capacity-shots"


def _shoot(page, name):
    for width in (1400, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})


def test_dedicated_channels_batch(live_app, live, page, first_admin):
    first_admin()
    with live_app.app_context():
        pool = f.make_pool(name="pool-us", total=50)
        ids = [f.make_number().id for _ in range(2)] + [f.make_number(allow_additional_channels=False).id]
        pool_id = pool.id
        db.session.remove()

    page.goto(live + "/batches/new?action=dedicated&ids=" + ",".join(map(str, ids)))
    expect(page.get_by_text("3 numbers selected")).to_be_visible()
    _shoot(page, "dedicated-new")
    page.get_by_label("Pool").select_option(label="pool-us")
    page.get_by_label("Dedicated channels per number").fill("3")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_text("2 will change")).to_be_visible()
    expect(page.get_by_text("Skipped 1: Cannot take additional channels (1)")).to_be_visible()
    expect(page.get_by_text("Give 2 numbers 3 dedicated channels each from pool pool-us (net 6 channels)?")) \
        .to_be_visible()
    _shoot(page, "dedicated-preview")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Batch applied.")).to_be_visible()
    _shoot(page, "dedicated-summary")

    with live_app.app_context():
        held = db.session.execute(sa.select(Number.dedicated_channels, Number.capacity_pool_id)
                                  .where(Number.id.in_(ids)).order_by(Number.id)).all()
        db.session.remove()
    assert [tuple(r) for r in held] == [(3, pool_id), (3, pool_id), (0, None)]

    page.goto(live + "/batches/new?action=assign_details&ids=" + str(ids[0]))
    _shoot(page, "assign-new")
    page.goto(live + "/batches/new?action=next_mode&ids=" + str(ids[0]))
    _shoot(page, "next-mode-new")
