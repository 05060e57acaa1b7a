"""Restore (batch.md §3, lifecycle.md §7): cancelled numbers inside the restore window come back;
a number whose paid time is over is charged one month (a `restore_charge` row and a new month from
now). Billing cycles reset to unlimited. History as the single-number restore. Undone only when
nothing was charged."""
from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa

from did_app import audit, clock, filters
from did_app.batches.actions import paid
from did_app.batches.actions.base import InputForm, Plan, Rule
from did_app.batches.sql import typed
from did_app.db import UTCDateTime, db
from did_app.lifecycle import ledger, periods
from did_app.lifecycle import service as lifecycle
from did_app.models import BatchItem, Number
from did_app.rules import renewal

WINDOW_ENDED = "Restore window ended"
_N = Number.__table__.c


class RestoreForm(InputForm):
    """No inputs: the selection alone."""


class RestoreAction(paid.PaidAction):
    code, label = "restore", "Restore"
    form = RestoreForm
    undoable = True  # when it charged nothing (engine: a paid batch with a cost is never undone)
    writes = ("cancelled_at", "billing_cycles_count")
    reads = ("expires_at", "expired_at", "billing_anchor_day", "monthly_price_minor", "next_capacity_mode",
             "next_monthly_price_minor")

    def params_from(self, form) -> dict:
        form.read()
        return {}

    def plan(self, params: dict) -> Plan:
        now = clock.now()
        window_start = now - timedelta(days=paid.workspace().restore_window_days)
        return Plan(targets={"cancelled_at": typed(None, UTCDateTime()), "billing_cycles_count": typed(None, sa.Integer())},
                    rules=[Rule(Number.cancelled_at.is_(None), "skip", "Not cancelled"),
                           Rule(Number.cancelled_at <= typed(window_start, UTCDateTime()), "skip", WINDOW_ENDED)],
                    cost=sa.case((renewal.paid_time_over_expr(now), renewal.renewal_price_expr()), else_=0))

    def classify(self, batch_id: int, where, params: dict, excluded=None) -> None:
        super().classify(batch_id, where, params, excluded)
        self._date_window_ends(batch_id)

    def _date_window_ends(self, batch_id: int) -> None:
        """"Restore window ended {date}": the date is the workspace's, so it is added here, one
        statement per date (the release job removes such numbers daily: they are few)."""
        ws = paid.workspace()
        rows = db.session.execute(sa.select(BatchItem.id, Number.cancelled_at).join(
            Number, Number.id == BatchItem.number_id).where(
            BatchItem.batch_id == batch_id, BatchItem.reason == WINDOW_ENDED)).all()
        by_date = defaultdict(list)
        for item_id, cancelled_at in rows:
            by_date[filters.local_date(cancelled_at + timedelta(days=ws.restore_window_days), ws)].append(item_id)
        for date, ids in by_date.items():
            for start in range(0, len(ids), 900):
                db.session.execute(sa.update(BatchItem).where(BatchItem.id.in_(ids[start:start + 900]))
                                   .values(reason=f"{WINDOW_ENDED} {date}").execution_options(synchronize_session=False))

    def confirmation(self, count: int, params: dict, total: int = 0, charged: int = 0) -> str:
        return (f"Restore {count:,} numbers? {count - charged:,} free, {charged:,} charged one month: "
                f"{self.money(total)}. Billing cycles reset to unlimited.")

    def confirmation_for(self, batch) -> str:
        charged = db.session.scalar(sa.select(sa.func.count()).select_from(BatchItem).join(
            Number, Number.id == BatchItem.number_id).where(
            paid.changes_of(batch.id), renewal.paid_time_over_expr(clock.now()))) or 0
        return self.confirmation(batch.change_count, batch.params, batch.total_cost_minor, charged)

    def inputs(self, params: dict) -> str:
        return "—"

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        if paid.is_undo(batch_id):
            return super(paid.PaidAction, self).apply(batch_id, actor, now, note)
        ws = paid.workspace()
        rows = paid.change_rows(batch_id, Number.cancelled_at, Number.billing_cycles_count, Number.expires_at,
                                Number.capacity_mode, Number.channels_included, Number.monthly_price_minor,
                                Number.next_capacity_mode, Number.next_monthly_price_minor)
        # the single restore's own quote (a row has the columns it reads): which numbers are charged
        # and their new expiry; the amount charged is the previewed cost, re-checked at confirm
        new_expiry = {r.number_id: lifecycle.restore_quote(r, ws, now).new_expires_at for r in rows}
        over = [r for r in rows if new_expiry[r.number_id] is not None]
        self.post("restore_charge", [ledger.Entry(r.cost_minor, number_id=r.number_id, number=r.number,
                                                  batch_id=batch_id, note="Restore after paid time") for r in over],
                  actor)
        anchor = periods.anchor_day_of(now, ws.time_zone)
        db.session.execute(sa.update(Number).where(Number.id.in_(sa.select(BatchItem.number_id).where(
            paid.changes_of(batch_id)))).values(cancelled_at=None, billing_cycles_count=None,
                                                 version=Number.version + 1, updated_at=now, updated_by=actor.user_id)
            .execution_options(synchronize_session=False))
        if over:
            db.session.execute(sa.update(Number.__table__).where(_N.id == sa.bindparam("b_id")).values(
                expires_at=sa.bindparam("new_expiry"), billing_anchor_day=anchor,
                capacity_mode=sa.bindparam("capacity_mode"),
                channels_included=sa.bindparam("channels_included"),
                monthly_price_minor=sa.bindparam("monthly_price_minor"),
                next_capacity_mode=sa.bindparam("next_capacity_mode"),
                next_monthly_price_minor=sa.bindparam("next_monthly_price_minor")),
                [{**_values(r), "new_expiry": new_expiry[r.number_id]} for r in over])
        audit.record_many(actor, _events(rows, new_expiry), batch_id=batch_id)
        paid.finish(batch_id)


def _values(row) -> dict:
    keep = {c: getattr(row, c) for c in ("capacity_mode", "channels_included", "monthly_price_minor",
                                         "next_capacity_mode", "next_monthly_price_minor")}
    return {**keep, **paid.next_mode(row), "b_id": row.number_id}


def _events(rows, new_expiry: dict) -> list[dict]:
    """Per number, as the single restore: "number.renewed" when charged (`new_expiry` not None),
    then "number.restored"."""
    events = []
    for r in rows:
        new = new_expiry[r.number_id]
        expires = r.expires_at if new is None else new
        if new is not None:
            switch = paid.next_mode(r)
            events.append(dict(
                action="number.renewed", object_type="number", object_id=r.number_id, object_label=r.number,
                before={"expires_at": paid.iso(r.expires_at)},
                after={"expires_at": paid.iso(new), "charged": r.cost_minor,
                       **({"capacity_mode": switch["capacity_mode"], "monthly_price": switch["monthly_price_minor"]}
                          if switch else {})}, note="Charged at restore"))
        events.append(dict(
            action="number.restored", object_type="number", object_id=r.number_id, object_label=r.number,
            before={"cancelled_at": paid.iso(r.cancelled_at), "billing_cycles": r.billing_cycles_count,
                    "expires_at": paid.iso(r.expires_at)},
            after={"cancelled_at": None, "billing_cycles": "unlimited", "expires_at": paid.iso(expires)}))
    return events


RESTORE = RestoreAction()
