"""Details page lifecycle actions: renew, cancel, restore, remove and refund (lifecycle.md §5, §7)."""

import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import LedgerEntry, Number, ReleasedNumber, Workspace
from did_app.workspace import ensure_workspace
from tests import factories as f
from tests.conftest import HX, login


@pytest.fixture
def number(app):
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 1000
        db.session.commit()
        n = f.make_number(monthly_price_minor=150)
        return {"id": n.id, "digits": n.digits}


def _hx(app, role="operator"):
    client = app.test_client()
    login(client, role)
    hx = HX(client)
    hx.load_token()
    return hx


def _number(app, number_id):
    with app.app_context():
        return db.session.get(Number, number_id)


def test_details_page_offers_renew_and_cancel_with_quotes(app, client, number):
    login(client, "operator")
    html = client.get(f"/numbers/{number['digits']}").get_data(as_text=True)
    assert "Renew…" in html and "3 months — $4.50" in html
    assert "Cancel number…" in html and "Restore…" not in html and "Remove and refund…" not in html


def test_viewer_sees_no_actions(app, client, number):
    login(client, "viewer")
    html = client.get(f"/numbers/{number['digits']}").get_data(as_text=True)
    assert "Renew…" not in html and "Cancel number…" not in html


def test_renew_charges_and_rerenders_sections(app, number):
    hx = _hx(app)
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/renew", data={"version": "1", "months": "3"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="billing"' in body and "Renewed until" in body
    with app.app_context():
        assert db.session.scalar(sa.select(Workspace.balance_minor)) == 1000 - 450
        assert db.session.scalar(sa.select(LedgerEntry.kind)) == "manual_renewal"


def test_short_balance_is_422_next_to_the_action_and_writes_nothing(app, number):
    hx = _hx(app)
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/renew", data={"version": "1", "months": "24"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "Balance $10.00 is short of $36.00." in body
    assert 'id="lifecycle-error"' in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 0


def test_cancel_then_restore(app, number):
    hx = _hx(app)
    assert hx.post(f"/numbers/{number['digits']}/lifecycle/cancel", data={"version": "1"}).status_code == 200
    n = _number(app, number["id"])
    assert n.cancelled_at is not None and n.status == "terminated"
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/restore", data={"version": str(n.version)})
    assert response.status_code == 200 and "Restored." in response.get_data(as_text=True)
    assert _number(app, number["id"]).cancelled_at is None


def test_stale_version_is_409_and_does_nothing(app, number):
    hx = _hx(app)
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/cancel", data={"version": "7"})
    assert response.status_code == 409
    assert _number(app, number["id"]).cancelled_at is None


def test_remove_and_refund_redirects_to_the_table(app, clock):
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 1000
        db.session.commit()
        n = f.make_number(awaiting_registration=True, needs_registration=True)
        digits, number_id = n.digits, n.id
    hx = _hx(app)
    response = hx.post(f"/numbers/{digits}/lifecycle/remove", data={"version": "1"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/numbers"
    with app.app_context():
        assert db.session.get(Number, number_id) is None
        assert db.session.scalar(sa.select(ReleasedNumber.reason)) == "removed_unregistered"


def test_unknown_action_is_404(app, number):
    hx = _hx(app)
    assert hx.post(f"/numbers/{number['digits']}/lifecycle/explode", data={"version": "1"}).status_code == 404


def test_restore_after_the_window_shows_why_instead_of_the_form(app, client, clock, number):
    from did_app.audit import Actor
    from did_app.lifecycle import service
    with app.app_context():
        service.cancel(Actor(None, "cli", "cli"), number["id"])
    clock.advance(days=36)  # the restore-window job has not run yet
    login(client, "operator")
    html = client.get(f"/numbers/{number['digits']}").get_data(as_text=True)
    assert "Restore: The restore window ended on" in html and "Restore number" not in html


def test_action_on_a_number_released_meanwhile_goes_back_to_the_table(app, number, monkeypatch):
    from did_app.audit import Actor
    from did_app.lifecycle import service
    hx = _hx(app)
    real_cancel = service.cancel

    def released_first(actor, number_id, **kw):
        with app.app_context():
            from did_app.db import write_transaction
            from did_app.lifecycle import release
            with write_transaction() as session:
                release.release_numbers(session, Actor(None, "cli", "cli"), [number_id], "expired")
        return real_cancel(actor, number_id, **kw)
    monkeypatch.setattr(service, "cancel", released_first)
    response = hx.post(f"/numbers/{number['digits']}/lifecycle/cancel", data={"version": "1"})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/numbers"
