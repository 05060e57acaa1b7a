"""The reminders job (lifecycle.md §11–§12): every kind due at its offsets, catch-up, moved dates,
stopped conditions, exactly once (twice in a row, twice at once), grouping and links."""
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from did_app import audit
from did_app.db import db, write_transaction
from did_app.lifecycle import forecast, service
from did_app.models import (
    Address,
    Notification,
    Number,
    NumberService,
    Proof,
    ProofType,
    ReminderClaim,
    SavedList,
    Workspace,
)
from did_app.models.registration import VerificationRequestProof
from did_app.reminders import claims, jobs
from did_app.workspace import ensure_workspace
from tests import factories
from tests.conftest import T0

UTC = timezone.utc
ACTOR = audit.Actor(None, "cli", "cli")
DUE = T0 + timedelta(days=40)  # 7 Jan 2027, 12:00 UTC


def _workspace(**values):
    """The settings row; the balance covers everything unless a test says otherwise (so only the
    reminders a test sets up come due)."""
    values.setdefault("balance_minor", 10**9)
    ws = ensure_workspace(db.session)
    for name, value in values.items():
        setattr(ws, name, value)
    db.session.commit()
    return ws


def run():
    """What a tick does for reminders: the cutoff as the renewals job leaves it, then the job."""
    with write_transaction() as session:
        forecast.recompute_cutoff(session)
    return jobs.claim_due_reminders()


def notes(kind=None):
    db.session.expire_all()
    stmt = sa.select(Notification).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return db.session.scalars(stmt).all()


def sent(kind=None):
    return [(n.kind, n.due_on, n.offset_days) for n in notes(kind)]


def claim_rows(kind):
    return db.session.execute(sa.select(ReminderClaim.subject_id, ReminderClaim.due_on, ReminderClaim.offset_days,
                                        ReminderClaim.state).where(ReminderClaim.kind == kind)
                              .order_by(ReminderClaim.offset_days)).all()


def walk_days(clock, until: datetime, step=timedelta(days=1)):
    while clock.now() < until:
        run()
        clock.advance(seconds=step.total_seconds())
    run()


# ---- one situation per kind, due at DUE --------------------------------------------------------

def _expiring(due):
    _workspace(balance_minor=1_000_000)
    return [factories.make_number(billing_cycles_count=0, expires_at=due)]


def _balance_short(due):
    _workspace(balance_minor=100)
    return [factories.make_number(expires_at=due, monthly_price_minor=150)]


def _aging(due):
    return [factories.make_number(expires_at=due - timedelta(days=60), expired_at=due - timedelta(days=34))]


def _restore(due):
    return [factories.make_number(cancelled_at=due - timedelta(days=35))]


def _deadline(due):
    return [factories.make_number(needs_registration=True, awaiting_registration=True,
                                  registration_deadline_at=due, expires_at=due + timedelta(days=90))]


def _proof_type(entity="personal"):
    return db.session.scalar(sa.select(ProofType).where(ProofType.entity == entity).limit(1))


def _proof(identity=None, address=None, expires_on=None):
    proof = Proof(identity_id=identity.id if identity else None, address_id=address.id if address else None,
                  proof_type_id=_proof_type("address" if address else "personal").id, expires_on=expires_on)
    db.session.add(proof)
    db.session.commit()
    return proof


def _backing(proof, request):
    db.session.add(VerificationRequestProof(request_id=request.id, proof_id=proof.id))
    db.session.commit()


def _registered_number(request, **kw):
    return factories.make_number(needs_registration=True, awaiting_registration=False,
                                 verification_request_id=request.id, identity_id=request.identity_id,
                                 expires_at=T0 + timedelta(days=200), **kw)


def _proof_expiring(due):
    request = factories.make_verification_request(status="approved")
    identity = db.session.get(factories.Identity, request.identity_id)
    _backing(_proof(identity, expires_on=due.date()), request)
    return [_registered_number(request)]


def _low_balance(due):
    _workspace(balance_minor=100)
    return [factories.make_number(expires_at=due, monthly_price_minor=150)]


SITUATIONS = {
    "expiring_no_renewal": _expiring,
    "renewal_balance_short": _balance_short,
    "aging_removal": _aging,
    "restore_window_end": _restore,
    "registration_deadline": _deadline,
    "proof_expiring": _proof_expiring,
    "low_balance_forecast": _low_balance,
}


@pytest.mark.parametrize("kind", sorted(SITUATIONS))
def test_each_kind_is_sent_at_30_7_and_1_days(app, clock, kind):
    with app.app_context():
        _workspace()
        numbers = SITUATIONS[kind](DUE)
        walk_days(clock, DUE - timedelta(hours=1))
        due_on = DUE.date()
        assert sent(kind) == [(kind, due_on, 30), (kind, due_on, 7), (kind, due_on, 1)]
        # each offset on its day: 30 days before the due date, 7, 1
        created = [n.created_at.date() for n in notes(kind)]
        assert created == [due_on - timedelta(days=o) for o in (30, 7, 1)]
        assert {state for *_, state in claim_rows(kind)} == {"claimed"}
        for note in notes(kind):
            if kind == "low_balance_forecast":
                assert note.list_token is None and note.payload == {"link": "billing.forecast"}
            else:
                assert note.count == 1
                items = db.session.scalar(sa.select(SavedList.items).where(SavedList.token == note.list_token))
                assert items == [numbers[0].number]


def test_messages_read_as_the_spec_writes_them(app, clock):
    with app.app_context():
        _workspace(balance_minor=100)
        for i in range(3):
            factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=7, hours=i))
        # renewing once more each: the first is already beyond the balance, the second after it
        factories.make_number(expires_at=T0 + timedelta(days=7), monthly_price_minor=150, billing_cycles_count=1)
        factories.make_number(expires_at=T0 + timedelta(days=7, hours=1), monthly_price_minor=250,
                              billing_cycles_count=1)
        run()
        by_kind = {n.kind: n.message for n in notes()}
        assert by_kind["expiring_no_renewal"] == "3 numbers expire on 5 Dec 2026 and will not renew."
        assert by_kind["renewal_balance_short"] == (
            "2 numbers renew on 5 Dec 2026 for $4.00; the balance won't cover them.")
        assert by_kind["low_balance_forecast"] == "Balance runs out on 5 Dec 2026: $4.00 of renewals can't be paid."

        clock.advance(days=6)
        factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=8))
        run()
        [single] = [n for n in notes("expiring_no_renewal") if n.due_on == date(2026, 12, 6)]
        assert single.message == "1 number expires on 6 Dec 2026 and will not renew."


def test_due_dates_are_local_days_of_the_workspace_time_zone(app, clock):
    with app.app_context():
        _workspace(time_zone="Pacific/Auckland")  # UTC+13 in December
        # 11:30 UTC on 5 Jan is 00:30 on 6 Jan in Auckland
        n = factories.make_number(billing_cycles_count=0, expires_at=datetime(2027, 1, 5, 11, 30, tzinfo=UTC))
        clock.set(datetime(2026, 12, 6, 10, 59, tzinfo=UTC))  # 23:59 on 6 Dec local: 31 days before
        run()
        assert sent() == []
        clock.set(datetime(2026, 12, 6, 11, 0, tzinfo=UTC))  # 00:00 on 7 Dec local: 30 days before
        run()
        assert sent() == [("expiring_no_renewal", date(2027, 1, 6), 30)]
        assert claim_rows("expiring_no_renewal")[0].subject_id == n.id


# ---- catch-up, moved dates, stopped conditions ---------------------------------------------------

def test_catch_up_claims_only_the_nearest_offset_and_skips_the_larger(app, clock):
    with app.app_context():
        _workspace()
        n = factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=5))
        assert run() == 1
        due_on = (T0 + timedelta(days=5)).date()
        assert sent() == [("expiring_no_renewal", due_on, 7)]
        assert claim_rows("expiring_no_renewal") == [(n.id, due_on, 7, "claimed"), (n.id, due_on, 30, "skipped")]
        clock.advance(days=4)
        assert run() == 1
        assert sent() == [("expiring_no_renewal", due_on, 7), ("expiring_no_renewal", due_on, 1)]


def test_a_due_date_already_past_sends_nothing(app, clock):
    with app.app_context():
        _workspace()
        factories.make_number(needs_registration=True, awaiting_registration=True,
                              registration_deadline_at=T0 - timedelta(days=1))
        assert run() == 0
        assert sent() == []


def test_a_moved_date_sends_nothing_more_for_the_old_date(app, clock):
    with app.app_context():
        _workspace(balance_minor=100_000)
        n = factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=30), billing_anchor_day=28)
        run()
        old = (T0 + timedelta(days=30)).date()
        assert sent() == [("expiring_no_renewal", old, 30)]
        service.renew(ACTOR, n.id, 1)  # expires 29 Jan 2027 now; cycles stay 0
        new = db.session.get(Number, n.id).expires_at.date()
        assert new == date(2027, 1, 28)
        walk_days(clock, T0 + timedelta(days=40))  # past the old date, before the new date's 7 days
        assert sent() == [("expiring_no_renewal", old, 30), ("expiring_no_renewal", new, 30)]


def test_a_condition_that_stops_sends_nothing_more(app, clock):
    with app.app_context():
        _workspace()
        n = factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=30))
        run()
        db.session.get(Number, n.id).billing_cycles_count = 5
        db.session.commit()
        walk_days(clock, T0 + timedelta(days=29, hours=23))
        assert len(sent()) == 1


# ---- exactly once ------------------------------------------------------------------------------

def test_running_twice_makes_no_second_notification(app, clock):
    with app.app_context():
        _workspace()
        factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=7))
        assert run() == 1
        assert run() == 0
        assert len(notes()) == 1


def _bulk_numbers(prefix, count, **values):
    rows = [dict(number=f"{prefix}{i:04d}", country="US", number_type="local", features=1,
                 capacity_mode="two_included", monthly_price_minor=100, status="not_configured",
                 version=1, created_at=T0, **values) for i in range(count)]
    db.session.execute(sa.insert(Number), rows)
    db.session.commit()


def test_two_concurrent_runs_claim_each_reminder_once(app, clock):
    with app.app_context():
        _workspace()
        # more than two chunks, on two dates
        _bulk_numbers("+1212555", 700, billing_cycles_count=0, expires_at=T0 + timedelta(days=7))
        _bulk_numbers("+1646555", 600, billing_cycles_count=0, expires_at=T0 + timedelta(days=1))
    results, errors = [], []

    def one_run():
        with app.app_context():
            try:
                results.append(jobs.claim_due_reminders())
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [0, 1300]
    with app.app_context():
        assert sorted((n.due_on, n.offset_days, n.count) for n in notes()) == [
            ((T0 + timedelta(days=1)).date(), 1, 600), ((T0 + timedelta(days=7)).date(), 7, 700)]
        claimed = db.session.scalar(sa.select(sa.func.count()).where(ReminderClaim.state == "claimed",
                                                                     ReminderClaim.notification_id.is_not(None)))
        assert claimed == 1300


def test_claims_of_one_run_sharing_kind_date_and_offset_make_one_notification(app, clock):
    with app.app_context():
        _workspace()
        made = [factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=7, hours=h))
                for h in (1, 2, 3)]
        factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=8))  # another date
        assert run() == 4
        by_date = {n.due_on: n for n in notes()}
        note = by_date[(T0 + timedelta(days=7)).date()]
        assert note.count == 3 and note.offset_days == 7
        items = db.session.scalar(sa.select(SavedList.items).where(SavedList.token == note.list_token))
        assert sorted(items) == sorted(n.number for n in made)
        assert note.payload["numbers"] == sorted(n.number for n in made)
        linked = db.session.scalars(sa.select(ReminderClaim.subject_id)
                                    .where(ReminderClaim.notification_id == note.id)).all()
        assert sorted(linked) == sorted(n.id for n in made)


# ---- proof_expiring ----------------------------------------------------------------------------

def test_proof_expiring_links_the_numbers_resting_on_the_proofs(app, clock):
    with app.app_context():
        _workspace()
        due = (T0 + timedelta(days=7)).date()
        # A: backs an approved request; its two registered numbers rest on it
        approved = factories.make_verification_request(status="approved")
        ada = db.session.get(factories.Identity, approved.identity_id)
        _backing(_proof(ada, expires_on=due), approved)
        reg1, reg2 = _registered_number(approved), _registered_number(approved)
        # an address proof of an identity nothing uses, made first: the address → identity lookup
        # must follow each proof's own address, not the first address proof's
        idle = factories.make_identity(first_name="Idle", last_name="Person")
        idle_home = Address(identity_id=idle.id, street="9 Oak St", city="Dover", postal_code="19901", country="US")
        db.session.add(idle_home)
        db.session.commit()
        _proof(address=idle_home, expires_on=due)
        # B: an address proof of an identity that a number's emergency service uses
        grace = factories.make_identity(first_name="Grace", last_name="Hopper")
        home = Address(identity_id=grace.id, street="2 Elm St", city="Arlington", postal_code="22201", country="US")
        db.session.add(home)
        db.session.commit()
        _proof(address=home, expires_on=due)
        served = factories.make_number(features=("voice_in", "emergency"))
        db.session.add(NumberService(number_id=served.id, kind="emergency", status="active",
                                     identity_id=grace.id, address_id=home.id))
        # C: backs only a pending request → not pending; D: a rejected service → not pending
        pending = factories.make_verification_request(status="pending")
        _backing(_proof(db.session.get(factories.Identity, pending.identity_id), expires_on=due), pending)
        _registered_number(pending)
        turing = factories.make_identity(first_name="Alan", last_name="Turing")
        _proof(turing, expires_on=due)
        refused = factories.make_number(features=("voice_in", "cnam_out"))
        db.session.add(NumberService(number_id=refused.id, kind="cnam_out", status="rejected", value="ACME",
                                     identity_id=turing.id))
        # E: would qualify but expired yesterday
        _backing(_proof(ada, expires_on=T0.date() - timedelta(days=1)), approved)
        db.session.commit()
        assert run() == 2
        [note] = notes("proof_expiring")
        assert note.message == (f"2 end-user proofs expire on 5 Dec 2026: {ada.display_name}, Grace Hopper. "
                                "Upload new ones to keep the registrations valid.")
        assert note.payload["numbers"] == sorted([reg1.number, reg2.number, served.number])
        assert note.count == 3


def test_a_proof_whose_numbers_no_longer_need_registration_is_not_reminded(app, clock):
    with app.app_context():
        _workspace()
        approved = factories.make_verification_request(status="approved")
        _backing(_proof(db.session.get(factories.Identity, approved.identity_id),
                        expires_on=(T0 + timedelta(days=7)).date()), approved)
        assert run() == 0  # the request has no numbers (all released)


# ---- low_balance_forecast --------------------------------------------------------------------

def test_low_balance_forecast_is_due_on_the_cutoff_date_within_90_days(app, clock):
    with app.app_context():
        _workspace(balance_minor=150)
        # 100 on 8 Dec is paid; 100 on 18 Dec is not: the cutoff. Unpaid within 90 days: 18 Dec,
        # 8 Jan, 18 Jan, 8 Feb, 18 Feb (the anchors keep the days)
        factories.make_number(expires_at=T0 + timedelta(days=10), monthly_price_minor=100, billing_anchor_day=8)
        factories.make_number(expires_at=T0 + timedelta(days=20), monthly_price_minor=100, billing_anchor_day=18)
        run()
        assert sent("low_balance_forecast") == [("low_balance_forecast", date(2026, 12, 18), 30)]
        assert notes("low_balance_forecast")[0].message == (
            "Balance runs out on 18 Dec 2026: $5.00 of renewals can't be paid.")
        clock.advance(days=13)  # 11 Dec: 7 days before
        run()
        assert sent("low_balance_forecast")[-1] == ("low_balance_forecast", date(2026, 12, 18), 7)


def test_a_covered_balance_sends_no_low_balance_reminder(app, clock):
    with app.app_context():
        _workspace(balance_minor=100_000)
        factories.make_number(expires_at=T0 + timedelta(days=10), monthly_price_minor=100)
        assert run() == 0 and sent() == []


def test_low_balance_beyond_the_forecast_horizon_is_found_when_an_offset_reaches_it(app, clock):
    with app.app_context():
        # the stored cutoff looks 30 days ahead; a 60-day offset needs the 90-day forecast
        _workspace(balance_minor=100, reminder_offsets=[60, 7, 1])
        factories.make_number(expires_at=T0 + timedelta(days=45), monthly_price_minor=150, billing_anchor_day=12)
        run()
        assert db.session.get(Workspace, 1).renewal_risk_cutoff_at is None
        assert sent("low_balance_forecast") == [("low_balance_forecast", date(2027, 1, 12), 60)]


# ---- cost: a re-run reads, chunks skip what is recorded ------------------------------------------

def _statements_during(action) -> list[str]:
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_a_rerun_with_nothing_new_attempts_no_insert(app, clock):
    with app.app_context():
        _workspace()
        _bulk_numbers("+1212555", 700, billing_cycles_count=0, expires_at=T0 + timedelta(days=7))
        _bulk_numbers("+1646555", 600, billing_cycles_count=0, expires_at=T0 + timedelta(days=1))
        assert run() == 1300
        clock.advance(minutes=15)
        counts = []
        statements = _statements_during(lambda: counts.append(jobs.claim_due_reminders()))
        assert counts == [0]
        assert not [s for s in statements if "INSERT INTO reminder_claim" in s]


def test_chunks_claim_new_subjects_among_recorded_ones_once(app, clock, monkeypatch):
    monkeypatch.setattr(claims, "CHUNK", 3)  # ranges of 3 subjects to record, with recorded ones between
    with app.app_context():
        _workspace()
        old = [factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=7, hours=2 * h))
               for h in range(6)]
        assert run() == 6
        # new due dates interleaved with the recorded ones, on the same local day
        new = [factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=7, hours=2 * h + 1))
               for h in range(6)]
        clock.advance(minutes=15)
        assert run() == 6
        assert run() == 0
        notes_of_day = [n for n in notes() if n.due_on == (T0 + timedelta(days=7)).date()]
        assert [n.count for n in notes_of_day] == [6, 6]
        linked = db.session.scalars(sa.select(ReminderClaim.subject_id)
                                    .where(ReminderClaim.notification_id == notes_of_day[1].id)).all()
        assert sorted(linked) == sorted(n.id for n in new)
        assert len(claim_rows("expiring_no_renewal")) == 12 * 2  # 7 claimed and 30 skipped each
        assert {n.id for n in old}.isdisjoint(linked)


def test_an_offset_added_later_is_recorded_as_skipped_for_subjects_already_claimed(app, clock):
    with app.app_context():
        _workspace()
        n = factories.make_number(billing_cycles_count=0, expires_at=T0 + timedelta(days=5))
        assert run() == 1
        _workspace(reminder_offsets=[1, 7, 14, 30])
        assert run() == 0
        assert claim_rows("expiring_no_renewal") == [(n.id, (T0 + timedelta(days=5)).date(), 7, "claimed"),
                                                     (n.id, (T0 + timedelta(days=5)).date(), 14, "skipped"),
                                                     (n.id, (T0 + timedelta(days=5)).date(), 30, "skipped")]
