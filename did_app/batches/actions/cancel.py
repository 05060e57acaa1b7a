"""Cancel (batch.md §3): live numbers stop at once and keep their paid time (lifecycle.md §7);
porting, awaiting and terminated numbers are skipped. History as the single-number cancel.
Undo clears `cancelled_at` and nothing else, refused once a number's paid time ran out."""
import sqlalchemy as sa

from did_app import clock, filters
from did_app.batches.actions import paid
from did_app.batches.actions.base import Action, InputForm, Plan, Rule, _request_meta
from did_app.batches.sql import differs, json_object, typed
from did_app.db import UTCDateTime, db
from did_app.lifecycle import forecast
from did_app.lifecycle.service import release_date_if_cancelled
from did_app.models import AuditEvent, Batch, BatchItem, Number

TYPE_OVER = 10  # more changes than this: the user types their count first (batch.md §2)


class CancelForm(InputForm):
    """No inputs: the selection alone."""


class CancelAction(Action):
    code, label = "cancel", "Cancel"
    form = CancelForm
    writes = ("cancelled_at",)
    reads = ("porting", "awaiting_registration", "expired_at", "expires_at", "billing_cycles_count")

    def params_from(self, form) -> dict:
        form.read()
        return {}

    def plan(self, params: dict) -> Plan:
        # the preview's time; apply writes the confirm's own (the restore window runs from it)
        return Plan(targets={"cancelled_at": typed(clock.now(), UTCDateTime())}, rules=[
            Rule(Number.porting.is_(True), "skip", "Porting — cancel the port-in request"),
            Rule(sa.or_(Number.cancelled_at.is_not(None), Number.expired_at.is_not(None)), "skip",
                 "Already terminated"),
            Rule(Number.awaiting_registration.is_(True), "skip", "Awaiting registration — use Remove and refund"),
        ])

    def needs_typing(self, count: int) -> bool:
        return count > TYPE_OVER

    def confirmation(self, count: int, params: dict) -> str:
        ws = paid.workspace()
        until = filters.local_date(release_date_if_cancelled(ws), ws)
        return (f"Cancel {count:,} numbers now? Traffic stops at once. They can be restored until {until}; "
                "after that they are released even if paid time remains.")

    def inputs(self, params: dict) -> str:
        return "—"

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        super().apply(batch_id, actor, now, note)
        if not paid.is_undo(batch_id):
            db.session.execute(sa.update(Number).where(
                Number.id.in_(sa.select(BatchItem.number_id).where(paid.changes_of(batch_id))),
                Number.cancelled_at.is_not(None)).values(cancelled_at=now)
                .execution_options(synchronize_session=False))
        forecast.recompute_cutoff(db.session)

    def write_history(self, batch_id: int, actor, now, note: str | None) -> None:
        """The single-number cancel's "number.cancelled" row (an undo writes the usual update)."""
        if paid.is_undo(batch_id):
            return super().write_history(batch_id, actor, now, note)
        ip, request_id = _request_meta()
        select = sa.select(
            typed(now, AuditEvent.__table__.c.at.type), typed(actor.user_id, sa.Integer()),
            typed(actor.label, sa.String()), typed(actor.source, sa.String()),
            typed("number.cancelled", sa.String()), typed("number", sa.String()), BatchItem.number_id,
            BatchItem.number, json_object([("status", typed("live", sa.String()))]),
            json_object([("cancelled_at", typed(paid.iso(now), sa.String()))]), typed(batch_id, sa.Integer()),
            typed(ip, sa.String()), typed(request_id, sa.String()),
        ).where(paid.changes_of(batch_id)).order_by(BatchItem.id)
        db.session.execute(sa.insert(AuditEvent).from_select(
            ["at", "actor_id", "actor_label", "source", "action", "object_type", "object_id", "object_label",
             "before", "after", "batch_id", "ip", "request_id"], select))

    def changed_since(self):
        # the number was restored, released, or cancelled again since this batch cancelled it
        applied_at = sa.select(Batch.applied_at).where(Batch.id == BatchItem.batch_id).scalar_subquery()
        return sa.or_(Number.id.is_(None), differs(Number.cancelled_at, applied_at))

    def undo_refusal(self, batch) -> str | None:
        ran_out = db.session.scalar(sa.select(sa.func.count()).select_from(BatchItem).join(
            Number, Number.id == BatchItem.number_id).where(
            paid.changes_of(batch.id), sa.or_(Number.expires_at.is_(None), Number.expires_at <= clock.now())))
        return f"Paid time ran out for {ran_out:,} numbers; restore them instead." if ran_out else None


CANCEL = CancelAction()
