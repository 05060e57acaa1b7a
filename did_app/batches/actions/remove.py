"""Remove and refund (batch.md §3, lifecycle.md §7): numbers awaiting registration, in any
verification state, are released at once (leaving their verification request with the row) and
each one's net paid comes back as a `refund` ledger row. Its cost is negative: money comes in.
Never undone."""
import sqlalchemy as sa

from did_app.batches.actions import paid
from did_app.batches.actions.base import InputForm, Plan, Rule
from did_app.db import db
from did_app.errors import DomainError
from did_app.lifecycle import forecast, release
from did_app.models import BatchItem, LedgerEntry, Number

TYPE_OVER = 10
CHANGED = "The amounts paid for these numbers changed since the preview. Review again."
PAID_KINDS = ("add_charge", "renewal", "manual_renewal", "restore_charge", "refund")


class RemoveForm(InputForm):
    """No inputs: the selection alone."""


def refund_expr():
    """ledger.net_paid() as SQL over `number`: its charges minus its refunds, never below 0."""
    total = (sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_minor), 0))
             .where(LedgerEntry.number_id == Number.id, LedgerEntry.kind.in_(PAID_KINDS)).scalar_subquery())
    return sa.case((total < 0, -total), else_=0)


def _removable():
    return sa.and_(Number.awaiting_registration.is_(True), Number.porting.is_(False))


class RemoveAction(paid.PaidAction):
    code, label = "remove", "Remove and refund"
    form = RemoveForm
    reads = ("awaiting_registration", "porting", "verification_request_id", "expires_at", "monthly_price_minor")

    def params_from(self, form) -> dict:
        form.read()
        return {}

    def plan(self, params: dict) -> Plan:
        return Plan(targets={}, rules=[
            Rule(Number.porting.is_(True), "skip", "Porting — cancel the port-in request"),
            Rule(Number.awaiting_registration.is_not(True), "skip", "Not awaiting registration"),
        ], cost=-refund_expr())

    def needs_typing(self, count: int) -> bool:
        return count > TYPE_OVER

    def confirmation(self, count: int, params: dict, total: int = 0) -> str:
        return (f"Remove {count:,} numbers awaiting registration and refund {self.money(-total)}? "
                "They are released at once. This can't be undone.")

    def inputs(self, params: dict) -> str:
        return "—"

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        """Release and refund the change items: exactly their previewed refunds."""
        mine = paid.changes_of(batch_id)
        ids = list(db.session.scalars(sa.select(BatchItem.number_id).where(mine).order_by(BatchItem.number)))
        previewed = -(db.session.scalar(sa.select(sa.func.sum(BatchItem.cost_minor)).where(mine)) or 0)
        done = release.release_numbers(db.session, actor, ids, "removed_unregistered", refund=True,
                                       condition=_removable(), batch_id=batch_id)
        refunded = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.batch_id == batch_id, LedgerEntry.kind == "refund")) or 0
        if len(done) != len(ids) or refunded != previewed:  # the re-check makes this rare: never half
            raise DomainError(CHANGED)
        forecast.recompute_cutoff(db.session)


REMOVE = RemoveAction()
