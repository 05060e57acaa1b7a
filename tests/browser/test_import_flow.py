"""CSV import in a real browser: upload with the default dry run, read the report, run the same
file again without the dry run, and land on the table filtered to the new order (lifecycle.md §3)."""
import re

import pytest
from playwright.sync_api import expect

from did_app.db import db
from did_app.workspace import ensure_workspace
from tests import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
CSV = ("number;monthly_price;voice_route;description\n"
       "+14155550101;1.50;main pbx;Reception\n"
       "+14155550102;1.50;;Support line\n")


def test_dry_run_then_import(live_app, live, page, tmp_path):
    with live_app.app_context():
        ensure_workspace(db.session).balance_minor = 10_000
        db.session.commit()
        f.make_voice_trunk(name="Main PBX")
    upload = tmp_path / "numbers.csv"
    upload.write_text(CSV)

    page.goto(live + "/numbers/import")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and open My Numbers").click()
    expect(page.get_by_role("heading", name="My Numbers")).to_be_visible()

    page.goto(live + "/numbers/import")
    expect(page.get_by_role("heading", name="Import numbers from CSV")).to_be_visible()
    dry_run = page.get_by_role("checkbox", name=re.compile(r"^Dry run"))
    expect(dry_run).to_be_checked()
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Run").click()

    report = page.locator("#import-report")
    expect(report).to_contain_text("2 to add, 0 skipped, 0 with errors.")
    expect(report).to_contain_text("Charge $3.00 (setup $0.00 + first month $3.00). Balance $100.00 → $97.00.")
    expect(page.locator("table.import-rows tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/numbers/import$"))

    page.get_by_role("checkbox", name=re.compile(r"^Dry run")).uncheck()
    page.get_by_role("button", name="Run").click()

    expect(page).to_have_url(re.compile(r"/numbers\?order=ORD-\d{6}$"))
    expect(page.get_by_text(re.compile(r"Imported 2 numbers as ORD-\d{6}\. Charged \$3\.00\."))).to_be_visible()
    rows = page.locator("#numbers-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#numbers-table")).to_contain_text("Reception")
    expect(page.locator("#numbers-table")).to_contain_text("Main PBX")
