"""Renew (batch.md §3): live, awaiting and expired numbers renew for 1, 3, 6, 12 or 24 months at
months × the next month's price (lifecycle.md §5 manual renewal); cancelled and porting numbers
are skipped. One `manual_renewal` ledger row and one "number.renewed" history row per number, as
the single-number renewal writes them, each with the batch id. Never undone."""
from datetime import datetime, timezone
from types import SimpleNamespace

import sqlalchemy as sa
from wtforms import SelectField

from did_app import audit, clock, filters
from did_app.batches.actions import paid
from did_app.batches.actions.base import InputForm, Plan, Rule
from did_app.batches.sql import typed
from did_app.db import UTCDateTime, db
from did_app.errors import DomainError
from did_app.lifecycle import ledger, periods
from did_app.lifecycle import service as lifecycle
from did_app.lifecycle.service import RENEW_MONTHS
from did_app.models import Batch, Number
from did_app.rules import renewal

MONTHS_MESSAGE = "Choose 1, 3, 6, 12 or 24 months."
_N = Number.__table__.c
# what lifecycle.renew_quote reads of a number (its refusal, price and next expiry)
RENEWAL_COLUMNS = (Number.expires_at, Number.expired_at, Number.billing_anchor_day, Number.billing_cycles_count,
                   Number.cancelled_at, Number.porting, Number.monthly_price_minor, Number.next_capacity_mode,
                   Number.next_monthly_price_minor)


class RenewForm(InputForm):
    months = SelectField("Months", choices=[("", "Choose…")] + [(str(m), str(m)) for m in RENEW_MONTHS],
                         validate_choice=False)


def _months_words(months: int) -> str:
    return f"{months} month{'s' if months != 1 else ''}"


class RenewAction(paid.PaidAction):
    code, label = "renew", "Renew"
    form = RenewForm
    # the billing fields the renewal reads: any move makes an item stale (batch.md §5 "Decided")
    reads = ("cancelled_at", "porting", "expires_at", "expired_at", "billing_anchor_day", "billing_cycles_count",
             "monthly_price_minor", "next_capacity_mode", "next_monthly_price_minor")

    def params_from(self, form) -> dict:
        form.read()
        raw = (form.months.data or "").strip()
        return self.clean({"months": int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else None})

    def clean(self, params: dict) -> dict:
        months = params.get("months")
        if months not in RENEW_MONTHS or isinstance(months, bool):
            raise DomainError(MONTHS_MESSAGE, "months")
        return {"months": months}

    def plan(self, params: dict) -> Plan:
        return Plan(targets={}, rules=[
            Rule(Number.cancelled_at.is_not(None), "skip", "Cancelled — restore first"),
            Rule(Number.porting.is_(True), "skip", "Porting in progress"),
        ], cost=typed(params["months"], sa.BigInteger()) * renewal.renewal_price_expr())

    def confirmation(self, count: int, params: dict, total: int = 0) -> str:
        return (f"Renew {count:,} numbers for {params['months']} months for {self.money(total)}? "
                f"Balance after: {self.money(self.balance_after(total))}.")

    def inputs(self, params: dict) -> str:
        return _months_words(params["months"])

    def moves(self, batch, item) -> list:
        """Expires: before → after, by the single renewal's rule, from the values the item stored
        (the confirm re-checks they still hold); from the apply time once applied."""
        number = SimpleNamespace(**{c.key: _read(c.key, (item.before or {}).get(c.key)) for c in RENEWAL_COLUMNS})
        _, new = renewed(number, batch.params["months"], paid.workspace(), batch.applied_at or clock.now())
        return [("Expires", filters.fmt_date(number.expires_at) or None, filters.fmt_date(new))]

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        """Charge each item's previewed cost, then move each number on by the months from its
        expiry (from now, with a new anchor, when it had expired), switching a pending mode."""
        months, ws = db.session.get(Batch, batch_id).params["months"], paid.workspace()
        rows = paid.change_rows(batch_id, *RENEWAL_COLUMNS, Number.capacity_mode, Number.channels_included)
        words = _months_words(months)
        self.post("manual_renewal", [ledger.Entry(r.cost_minor, number_id=r.number_id, number=r.number,
                                                  batch_id=batch_id, detail={"months": months},
                                                  note=f"Renewed for {words}") for r in rows], actor)
        updates, events = [], []
        for r in rows:
            anchor, new = renewed(r, months, ws, now)
            switch = paid.next_mode(r)
            updates.append(_values(r, switch, b_id=r.number_id, expires_at=new, billing_anchor_day=anchor))
            events.append(dict(
                action="number.renewed", object_type="number", object_id=r.number_id, object_label=r.number,
                before={"expires_at": paid.iso(r.expires_at), "expired_at": paid.iso(r.expired_at)},
                after={"expires_at": paid.iso(new), "months": months, "charged": r.cost_minor,
                       **_switch_history(switch)},
                note=f"Manual renewal, {words}"))
        if updates:
            db.session.execute(sa.update(Number.__table__).where(_N.id == sa.bindparam("b_id")).values(
                expires_at=sa.bindparam("expires_at"), expired_at=None,
                billing_anchor_day=sa.bindparam("billing_anchor_day"), capacity_mode=sa.bindparam("capacity_mode"),
                channels_included=sa.bindparam("channels_included"),
                monthly_price_minor=sa.bindparam("monthly_price_minor"),
                next_capacity_mode=sa.bindparam("next_capacity_mode"),
                next_monthly_price_minor=sa.bindparam("next_monthly_price_minor"),
                version=_N.version + 1, updated_at=now, updated_by=actor.user_id), updates)
        audit.record_many(actor, events, batch_id=batch_id)
        paid.finish(batch_id)


def renewed(number, months: int, ws, now) -> tuple[int, datetime]:
    """(billing anchor day, new expiry) of `number` (a Number or a row of RENEWAL_COLUMNS) renewed
    for `months` at `now`: the single renewal's rule (lifecycle/service.py renew_quote and renew),
    which starts an expired number afresh from today with today's anchor."""
    new = lifecycle.renew_quote(number, months, ws, now).new_expires_at
    anchor = periods.anchor_day_of(now, ws.time_zone) if number.expired_at is not None else number.billing_anchor_day
    return anchor, new


def _read(column: str, value):
    """An item's stored value as the column's Python value (timestamps are stored as ISO text)."""
    if value is None or not isinstance(Number.__table__.c[column].type, UTCDateTime):
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _values(row, switch: dict, **values) -> dict:
    """Every column the renewal's UPDATE binds: the switch's, else the row's own."""
    keep = {c: getattr(row, c) for c in ("capacity_mode", "channels_included", "monthly_price_minor",
                                         "next_capacity_mode", "next_monthly_price_minor")}
    return {**keep, **switch, **values}


def _switch_history(switch: dict) -> dict:
    if not switch:
        return {}
    return {"capacity_mode": switch["capacity_mode"], "monthly_price": switch["monthly_price_minor"]}


RENEW = RenewAction()
