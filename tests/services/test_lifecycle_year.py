"""A year of the fake clock over a small inventory (issue 4, "Done means"): each day every job runs
twice; after each day every number's state, expiry and ledger match the spec, worked out by hand
below, and the second run changes nothing."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from did_app import audit
from did_app.db import db, write_transaction
from did_app.lifecycle import create, jobs, service
from did_app.models import AuditEvent, LedgerEntry, Notification, Number, ReleasedNumber, Workspace
from did_app.registration import jobs as registration_jobs
from did_app.workspace import ensure_workspace
from tests.conftest import T0

UTC = timezone.utc
ACTOR = audit.Actor(None, "cli", "cli")


def at(y, m, d):
    return datetime(y, m, d, 12, 0, tzinfo=UTC)


# A: paid until 31 Jan, unlimited: anchor 31 renews on the last day of short months, no drift.
A_EXPIRIES = [at(2027, 1, 31), at(2027, 2, 28), at(2027, 3, 31), at(2027, 4, 30), at(2027, 5, 31),
              at(2027, 6, 30), at(2027, 7, 31), at(2027, 8, 31), at(2027, 9, 30), at(2027, 10, 31),
              at(2027, 11, 30), at(2027, 12, 31)]
# B: added today with 2 cycles: renews 28 Dec and 28 Jan, expires 28 Feb (cycles 0), aging ends 4 Apr.
B_EXPIRIES = [at(2026, 12, 28), at(2027, 1, 28), at(2027, 2, 28)]
B_EXPIRED, B_RELEASED = at(2027, 2, 28), at(2027, 4, 3)
# C: 600.00 a month, paid until 10 Dec: renews once, then the balance is short on 10 Jan.
C_EXPIRED, C_RELEASED = at(2027, 1, 10), at(2027, 2, 13)
# D: needs registration: renews 28 Dec, then the deadline job releases it the same tick with a refund.
D_RELEASED = at(2026, 12, 28)
# E: cancelled on 8 Dec, released when the restore window ends on 12 Jan.
E_CANCELLED, E_RELEASED = at(2026, 12, 8), at(2027, 1, 12)
# F: cancelled 8 Dec, restored free on 18 Dec: unlimited again, renews on the 28th.
F_RESTORED = at(2026, 12, 18)


def _monthly_28(until):
    out, t = [], at(2026, 12, 28)
    while t <= until:
        out.append(t)
        t = at(t.year + (t.month == 12), t.month % 12 + 1, 28)
    return out


def _add(number, **kw):
    spec = create.NumberSpec(number=number, country="US", number_type="local",
                             monthly_price_minor=kw.pop("price", 100), **kw)
    with write_transaction() as session:
        create.create_numbers(session, ACTOR, [spec], kind="add")
    return db.session.scalar(sa.select(Number.id).where(Number.number == number))


def _tick():
    jobs.renew_due_numbers()
    jobs.release_aged_numbers()
    jobs.release_unrestored()
    registration_jobs.remove_overdue()


def _snapshot():
    db.session.expire_all()
    counts = tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                   for m in (LedgerEntry, AuditEvent, Notification, ReleasedNumber, Number))
    return counts, db.session.scalar(sa.select(Workspace.balance_minor))


def _ledger(number_id, kind):
    return db.session.scalar(sa.select(sa.func.count()).where(LedgerEntry.number_id == number_id,
                                                              LedgerEntry.kind == kind))


def _released(number):
    return db.session.scalar(sa.select(ReleasedNumber.reason).where(ReleasedNumber.number == number))


def _check_day(now, ids):
    n = {k: db.session.get(Number, v) for k, v in ids.items()}
    # A
    a_next = next(t for t in A_EXPIRIES + [at(2028, 1, 31)] if t > now)
    assert n["A"].expires_at == a_next and n["A"].expired_at is None
    assert _ledger(ids["A"], "renewal") == sum(1 for t in A_EXPIRIES if t <= now)
    # B
    if now < B_EXPIRED:
        assert n["B"].expires_at == next(t for t in B_EXPIRIES if t > now)
        assert n["B"].billing_cycles_count == 2 - sum(1 for t in B_EXPIRIES[:2] if t <= now)
        assert n["B"].expiring_soon == (n["B"].billing_cycles_count == 0)
    elif now < B_RELEASED:
        assert n["B"].expired_at == B_EXPIRED and n["B"].status == "terminated"
    else:
        assert n["B"] is None and _released("+14155550102") == "expired"
    assert _ledger(ids["B"], "renewal") == sum(1 for t in B_EXPIRIES[:2] if t <= now)
    # C
    if now < C_EXPIRED:
        assert n["C"].expired_at is None
    elif now < C_RELEASED:
        assert n["C"].expired_at == C_EXPIRED
    else:
        assert n["C"] is None and _released("+14155550103") == "expired"
    assert _ledger(ids["C"], "renewal") == (1 if now >= at(2026, 12, 10) else 0)
    # D
    if now < D_RELEASED:
        assert n["D"].awaiting_registration and n["D"].status == "awaiting_registration"
    else:
        assert n["D"] is None and _released("+14155550104") == "registration_deadline"
        assert _ledger(ids["D"], "refund") == 1
    # E
    if now < E_CANCELLED:
        assert n["E"].cancelled_at is None
    elif now < E_RELEASED:
        assert n["E"].cancelled_at == E_CANCELLED
    else:
        assert n["E"] is None and _released("+14155550105") == "cancelled"
    # F
    if n["F"].cancelled_at is None:
        f_renewals = _monthly_28(now)
        assert n["F"].expires_at == next(t for t in _monthly_28(now + timedelta(days=32)) if t > now)
        assert _ledger(ids["F"], "renewal") == len(f_renewals)


def _expected_balance(now):
    spent = 4 * 100  # B, D, E, F: setup 0 + first month
    spent += 100 * sum(1 for t in A_EXPIRIES if t <= now)
    spent += 100 * sum(1 for t in B_EXPIRIES[:2] if t <= now)
    spent += 60_000 * (now >= at(2026, 12, 10))
    if now >= D_RELEASED:
        spent += 100 - 200  # renewed on 28 Dec, then its 200 net paid refunded
    spent += 100 * sum(1 for t in _monthly_28(now))  # F (cancelled 8–18 Dec, before any renewal)
    return 100_000 - spent


def test_a_year_of_ticks(app, clock):
    with app.app_context():
        ws = ensure_workspace(db.session)
        ws.balance_minor = 100_000
        db.session.commit()
        ids = {
            "A": _add("+14155550101", paid_until=at(2027, 1, 31)),
            "B": _add("+14155550102", billing_cycles_count=2),
            "C": _add("+14155550103", price=60_000, paid_until=at(2026, 12, 10)),
            "D": _add("+14155550104", needs_registration=True),
            "E": _add("+14155550105"),
            "F": _add("+14155550106"),
        }
        assert db.session.get(Number, ids["A"]).billing_anchor_day == 31
        now = T0
        while now < T0 + timedelta(days=366):
            now += timedelta(days=1)
            clock.set(now)
            if now == E_CANCELLED:
                service.cancel(ACTOR, ids["E"])
                service.cancel(ACTOR, ids["F"])
            if now == F_RESTORED:
                service.restore(ACTOR, ids["F"])
            _tick()
            first = _snapshot()
            _tick()
            assert _snapshot() == first, f"a second tick changed something on {now:%Y-%m-%d}"
            _check_day(now, ids)
            assert first[1] == _expected_balance(now), f"balance on {now:%Y-%m-%d}"
        # every renewal is one ledger row with its own key
        keys = db.session.scalars(sa.select(LedgerEntry.idempotency_key).where(LedgerEntry.kind == "renewal")).all()
        assert len(keys) == len(set(keys))
