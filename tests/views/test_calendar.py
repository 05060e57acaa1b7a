"""The expiry calendar feed (lifecycle.md §13): a secret per-user URL without login, RFC 5545 from
`icalendar`, one all-day event per (local date, kind) with stable UIDs and the calendar name; reset
makes the old URL 404."""
import re
from datetime import datetime, timedelta, timezone

import icalendar
import pytest
import sqlalchemy as sa

from did_app.db import db
from did_app.models import User, Workspace
from tests import factories as f
from tests.conftest import T0, csrf_from, login

HOST = "numbers.example.com"


@pytest.fixture
def app_base(app):
    app.config["BASE_URL"] = f"https://{HOST}"
    return app


def _feed_path(client) -> str:
    html = client.get("/account").get_data(as_text=True)
    url = re.search(r'id="calendar-url" type="text" value="([^"]+)"', html).group(1)
    assert url.startswith(f"https://{HOST}/calendar/") and url.endswith(".ics")
    return url.removeprefix(f"https://{HOST}")


def _inventory(app):
    """In Europe/Berlin: numbers in each of the feed's situations, two of them on one local day."""
    with app.app_context():
        ws = db.session.scalars(sa.select(Workspace)).first()
        ws.time_zone, ws.name, ws.balance_minor = "Europe/Berlin", "Acme", 10_000_000
        db.session.commit()
        # 23:30 UTC on 5 Dec is 00:30 on 6 Dec in Berlin: the local date decides
        late = datetime(2026, 12, 5, 23, 30, tzinfo=timezone.utc)
        f.make_number(number="+14155550001", billing_cycles_count=0, expires_at=late)
        f.make_number(number="+14155550002", billing_cycles_count=0, expires_at=late + timedelta(hours=5))
        f.make_number(number="+14155550003", monthly_price_minor=150, expires_at=late)
        f.make_number(number="+14155550004", monthly_price_minor=250, expires_at=late + timedelta(hours=1))
        f.make_number(number="+14155550005", expired_at=T0 - timedelta(days=4), expires_at=T0 - timedelta(days=4))
        f.make_number(number="+14155550006", cancelled_at=T0 - timedelta(days=1))
        f.make_number(number="+14155550007", needs_registration=True, awaiting_registration=True,
                      registration_deadline_at=T0 + timedelta(days=10))
        f.make_number(number="+14155550008", billing_cycles_count=0, expires_at=T0 + timedelta(days=400))
        # exactly local midnight (7 Dec 00:00 in Berlin) starts that day
        f.make_number(number="+14155550009", billing_cycles_count=0, expires_at=datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc))


def _events(body: bytes) -> dict:
    cal = icalendar.Calendar.from_ical(body)
    return cal, {str(e["uid"]): e for e in cal.walk("VEVENT")}


def test_the_feed_parses_back_with_its_events(app_base, client):
    app = app_base
    login(client, "viewer")
    _inventory(app)
    response = client.get(_feed_path(client))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    cal, events = _events(response.data)
    assert str(cal["x-wr-calname"]) == str(cal["name"]) == "Acme — My Numbers"
    assert set(events) == {
        f"expiring_no_renewal-2026-12-06@{HOST}", f"renewal-2026-12-06@{HOST}",
        f"expiring_no_renewal-2026-12-07@{HOST}",
        f"aging_removal-2026-12-28@{HOST}",      # expired 24 Nov + 34 days
        f"restore_window_end-2027-01-01@{HOST}",  # cancelled 27 Nov + 35 days
        f"registration_deadline-2026-12-08@{HOST}",
        f"renewal-2026-12-18@{HOST}",  # the awaiting number renews too (it expires T0 + 20 days)
    }
    wont = events[f"expiring_no_renewal-2026-12-06@{HOST}"]
    assert str(wont["summary"]) == "2 numbers expire (won't renew)"
    assert wont.decoded("dtstart") == datetime(2026, 12, 6).date()
    assert wont.decoded("dtend") == datetime(2026, 12, 7).date()
    description = str(wont["description"])
    assert "+14155550001" in description and "+14155550002" in description and "+14155550003" not in description
    assert f"https://{HOST}/numbers?cycles=0&expires_from=2026-12-06&expires_to=2026-12-06" in description
    assert str(events[f"renewal-2026-12-06@{HOST}"]["summary"]) == "2 numbers renew — $4.00"
    assert str(events[f"aging_removal-2026-12-28@{HOST}"]["summary"]) == "1 number leaves the aging pool"
    assert str(events[f"restore_window_end-2027-01-01@{HOST}"]["summary"]) == "Restore window ends for 1 number"
    assert str(events[f"registration_deadline-2026-12-08@{HOST}"]["summary"]) == "Registration deadline for 1 number"


def test_events_no_filter_can_date_link_to_their_own_numbers(app_base, client):
    """Aging, restore window and registration deadline: no filter key names their day, so the event
    links to its numbers as a pasted list, and that list shows exactly them."""
    app = app_base
    login(client, "viewer")
    _inventory(app)
    _, events = _events(client.get(_feed_path(client)).data)
    for uid, number in ((f"aging_removal-2026-12-28@{HOST}", "+14155550005"),
                        (f"restore_window_end-2027-01-01@{HOST}", "+14155550006"),
                        (f"registration_deadline-2026-12-08@{HOST}", "+14155550007")):
        link = str(events[uid]["url"])
        assert link == f"https://{HOST}/numbers?q=%2B{number[1:]}", uid
        assert f"Open these numbers: {link}" in str(events[uid]["description"])
        page = client.get(link.removeprefix(f"https://{HOST}")).get_data(as_text=True)
        assert "Searched 1 number: 1 found." in page, uid
        assert f'href="/numbers/{number[1:]}"' in page, uid


def test_a_day_with_more_numbers_than_listed_links_to_the_nearest_filter(app_base, client):
    app = app_base
    login(client, "viewer")
    with app.app_context():
        for i in range(55):
            f.make_number(number=f"+1415557{i:04d}", cancelled_at=T0 - timedelta(days=1))
    _, events = _events(client.get(_feed_path(client)).data)
    assert str(events[f"restore_window_end-2027-01-01@{HOST}"]["url"]) == f"https://{HOST}/numbers?status=terminated"


def test_lines_fold_at_75_octets_and_the_description_lists_at_most_50(app_base, client):
    app = app_base
    login(client, "viewer")
    with app.app_context():
        for i in range(60):
            f.make_number(number=f"+1415556{i:04d}", billing_cycles_count=0, expires_at=T0 + timedelta(days=2))
    body = client.get(_feed_path(client)).data
    lines = body.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # folded continuation lines
    _, events = _events(body)
    description = str(events[f"expiring_no_renewal-2026-11-30@{HOST}"]["description"])
    assert description.count("+1415556") == 50 and "… and 10 more" in description


def test_balance_runs_out_links_to_the_forecast(app_base, client):
    login(client, "viewer")
    with app_base.app_context():
        f.make_number(monthly_price_minor=500, expires_at=T0 + timedelta(days=3))  # balance 0
    _, events = _events(client.get(_feed_path(client)).data)
    balance = [e for uid, e in events.items() if uid.startswith("low_balance_forecast-")]
    assert len(balance) == 1 and str(balance[0]["summary"]) == "Balance runs out"
    assert f"https://{HOST}/billing/forecast" in str(balance[0]["description"])


def test_no_login_needed_and_reset_makes_the_old_url_404(app_base, client):
    login(client, "operator")
    old = _feed_path(client)
    assert app_base.test_client().get(old).status_code == 200  # no session at all
    token = csrf_from(client.get("/account").get_data(as_text=True))
    response = client.post("/account/calendar/reset", data={"csrf_token": token})
    assert response.status_code == 303
    new = _feed_path(client)
    assert new != old and len(new.removeprefix("/calendar/").removesuffix(".ics")) == 32
    assert app_base.test_client().get(old).status_code == 404
    assert app_base.test_client().get(new).status_code == 200


@pytest.mark.parametrize("path", ["/calendar/x.ics", "/calendar/" + "a" * 32 + ".ics", "/calendar/%00.ics",
                                  "/calendar/" + "a" * 5000 + ".ics", "/calendar/.ics", "/calendar/ab%2Fcd.ics"])
def test_unknown_or_malformed_tokens_are_404(app_base, path):
    login(app_base.test_client(), "admin")
    assert app_base.test_client().get(path).status_code == 404


def test_a_user_without_a_token_gets_one_on_the_profile(app_base, client):
    user_id = login(client, "viewer")
    with app_base.app_context():
        db.session.execute(sa.update(User).where(User.id == user_id).values(calendar_token=None))
        db.session.commit()
    path = _feed_path(client)
    assert path == _feed_path(client)  # made once, then kept
    assert app_base.test_client().get(path).status_code == 200


def test_a_deactivated_users_feed_is_gone(app_base, client):
    user_id = login(client, "viewer")
    path = _feed_path(client)
    with app_base.app_context():
        db.session.execute(sa.update(User).where(User.id == user_id).values(active=False))
        db.session.commit()
    assert app_base.test_client().get(path).status_code == 404
