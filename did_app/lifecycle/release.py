"""Releasing numbers into the Released numbers history (lifecycle.md §8), set-based.

One call copies the numbers into `released_number`, optionally refunds their net paid, deletes the
number rows (services go with them; dedicated channels return to the pool because pool usage is
the sum over its numbers) and writes one `number.released` history row each, all in the caller's
transaction.
"""
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from did_app import audit, clock
from did_app.db import chunked
from did_app.errors import Conflict
from did_app.lifecycle import ledger
from did_app.models import Identity, LedgerEntry, Number, Order, ReleasedNumber, SmsRoute, VoiceRoute

REASONS = {
    "expired": "expired",
    "cancelled": "cancelled, restore window over",
    "registration_deadline": "registration deadline passed",
    "removed_unregistered": "removed and refunded",
    "port_in_cancelled": "port-in cancelled",
}
CHARGE_KINDS = ("add_charge", "renewal", "manual_renewal", "restore_charge")


def _identity_name():
    return sa.case((Identity.company_name.is_not(None), Identity.company_name),
                   else_=Identity.first_name + " " + Identity.last_name)


def _snapshot(session, ids: list[int]) -> list[dict]:
    voice, sms = aliased(VoiceRoute), aliased(SmsRoute)
    charged = (sa.select(sa.func.coalesce(-sa.func.sum(LedgerEntry.amount_minor), 0))
               .where(LedgerEntry.number_id == Number.id, LedgerEntry.kind.in_(CHARGE_KINDS))
               .scalar_subquery())
    refunded = (sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_minor), 0))
                .where(LedgerEntry.number_id == Number.id, LedgerEntry.kind == "refund")
                .scalar_subquery())
    stmt = (sa.select(Number.id, Number.number, Number.country, Number.region, Number.city,
                      Number.number_type, Number.description, Number.created_at,
                      voice.name.label("voice"), sms.name.label("sms"), _identity_name().label("identity"),
                      sa.func.coalesce(Order.external_reference, Order.reference).label("order_ref"),
                      charged.label("charged"), refunded.label("refunded"))
            .outerjoin(voice, voice.id == Number.voice_route_id)
            .outerjoin(sms, sms.id == Number.sms_route_id)
            .outerjoin(Identity, Identity.id == Number.identity_id)
            .outerjoin(Order, Order.id == Number.order_id)
            .where(Number.id.in_(ids)))
    return [row._asdict() for row in session.execute(stmt)]


def release_numbers(session, actor, number_ids, reason: str, *, refund: bool = False,
                    condition=None, batch_id: int | None = None) -> list[int]:
    """Release the numbers among `number_ids` that still exist (and still satisfy `condition`,
    an extra WHERE clause on Number, so a job's re-run or a racing process releases nothing twice).

    With `refund`, each one's net paid comes back as one `refund` ledger row keyed `refund:{id}`.
    A batch passes its `batch_id` for its ledger and history rows.
    Returns the ids released.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown release reason {reason!r}")
    released: list[int] = []
    now = clock.now()
    for chunk in chunked(number_ids, 500):
        where = [Number.id.in_(chunk)]
        if condition is not None:
            where.append(condition)
        # lock the rows first (PostgreSQL; SQLite holds the write lock already), so a racing
        # release, renewal or approval waits, and every caller locks number before workspace
        ids = list(session.scalars(sa.select(Number.id).where(*where).order_by(Number.id).with_for_update()))
        if not ids:
            continue
        refunds = ledger.net_paid(session, ids) if refund else {}
        rows = _snapshot(session, ids)
        if refund:
            ledger.post(session, "refund", [
                ledger.Entry(refunds.get(r["id"], 0), number_id=r["id"], number=r["number"],
                             idempotency_key=f"refund:{r['id']}", note=REASONS[reason], batch_id=batch_id)
                for r in rows], actor)
        session.execute(sa.insert(ReleasedNumber), [dict(
            number=r["number"], country=r["country"], region=r["region"], city=r["city"],
            number_type=r["number_type"], description=r["description"], added_at=r["created_at"],
            released_at=now, reason=reason, voice_route_name=r["voice"], sms_route_name=r["sms"],
            identity_name=r["identity"], order_reference=r["order_ref"],
            total_charged_minor=r["charged"] or 0,
            total_refunded_minor=(r["refunded"] or 0) + refunds.get(r["id"], 0),
            old_number_id=r["id"]) for r in rows])
        audit.record_many(actor, [dict(
            action="number.released", object_type="number", object_id=r["id"], object_label=r["number"],
            before={"status": "in inventory"}, after={"status": "released", "reason": reason},
            note=f"Released: {REASONS[reason]}") for r in rows], batch_id=batch_id)
        # the same predicate as the copy: a row that stopped qualifying is not deleted
        deleted = session.execute(sa.delete(Number).where(Number.id.in_(ids), *where[1:])
                                  .execution_options(synchronize_session=False))
        if deleted.rowcount != len(ids):  # cannot happen under the lock; never commit a half release
            raise Conflict("These numbers changed while they were being released. Nothing was done.")
        released.extend(ids)
    gone = set(released)
    for key, obj in list(session.identity_map.items()):
        if key[0] is Number and key[1][0] in gone:  # by identity key: the row can't be reloaded
            session.expunge(obj)
    return released
