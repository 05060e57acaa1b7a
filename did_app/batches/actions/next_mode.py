"""Change next capacity mode (batch.md §3): 2 included or 0 included from the next renewal at a
next monthly price, or Clear the pending change; the rules and messages of the single-number
edit (numbers/edits.py), including KEEP_PRICE (each number renews at its current price)."""
import sqlalchemy as sa
from flask import g
from wtforms import SelectField, StringField

from did_app import filters, money
from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import differs, typed
from did_app.db import db
from did_app.errors import DomainError
from did_app.lifecycle import forecast
from did_app.models import Number
from did_app.models.numbers import CAPACITY_MODES, SWITCHABLE_MODES, SWITCHABLE_TYPES
from did_app.numbers.edits import KEEP_PRICE

CLEAR = "clear"
MODE_MESSAGE = "Choose 2 included or 0 included."
PRICE_MESSAGE = "Enter the monthly price from the next renewal."


class NextModeForm(InputForm):
    next_capacity_mode = SelectField("Next capacity mode", validate_choice=False, choices=[
        ("", "Choose…"), ("two_included", "2 included"), ("zero_included", "0 included"),
        (CLEAR, "Clear the pending change")])
    next_monthly_price = StringField("Next monthly price")


def can_switch():
    """Number.mode_can_switch as SQL over `number`."""
    return sa.and_(Number.number_type.in_(SWITCHABLE_TYPES), Number.capacity_mode.in_(SWITCHABLE_MODES))


class NextModeAction(Action):
    code, label = "next_mode", "Change next capacity mode"
    form = NextModeForm
    writes = ("next_capacity_mode", "next_monthly_price_minor")
    reads = ("capacity_mode", "number_type", "monthly_price_minor")

    def params_from(self, form) -> dict:
        form.read()
        mode = (form.next_capacity_mode.data or "").strip()
        if mode == CLEAR:
            return {"mode": None, "price_minor": None}
        if mode not in SWITCHABLE_MODES:
            raise DomainError(MODE_MESSAGE, "next_capacity_mode")
        text = (form.next_monthly_price.data or "").strip()
        if not text:
            raise DomainError(PRICE_MESSAGE, "next_monthly_price")
        return {"mode": mode, "price_minor": money.parse(text, g.workspace.currency, "next_monthly_price")}

    def clean(self, params: dict) -> dict:
        mode, price = params.get("mode"), params.get("price_minor")
        if mode is None:
            return {"mode": None, "price_minor": None}  # clearing the mode clears its price
        if mode not in SWITCHABLE_MODES:
            raise DomainError(MODE_MESSAGE, "next_capacity_mode")
        if price != KEEP_PRICE and (not isinstance(price, int) or isinstance(price, bool) or price < 0):
            raise DomainError(PRICE_MESSAGE, "next_monthly_price")
        return {"mode": mode, "price_minor": price}

    def plan(self, params: dict) -> Plan:
        mode = params["mode"]
        if mode is None:
            return Plan(targets={"next_capacity_mode": typed(None, sa.String()),
                                 "next_monthly_price_minor": typed(None, sa.BigInteger())},
                        rules=[Rule(Number.next_capacity_mode.is_(None), "skip", "Nothing pending")])
        target_mode = typed(mode, sa.String())
        price = params["price_minor"]
        target_price = Number.monthly_price_minor if price == KEEP_PRICE else typed(price, sa.BigInteger())
        same = sa.and_(Number.next_capacity_mode == target_mode,
                       sa.not_(differs(Number.next_monthly_price_minor, target_price)))
        return Plan(targets={"next_capacity_mode": target_mode, "next_monthly_price_minor": target_price}, rules=[
            Rule(sa.not_(can_switch()), "skip", "Capacity mode can't change"),
            Rule(same, "skip", f"Already {CAPACITY_MODES[mode]}"),
        ])

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        super().apply(batch_id, actor, now, note)
        forecast.recompute_cutoff(db.session)  # what renews, and for how much, moved the cutoff

    def _price(self, params) -> str:
        if params["price_minor"] == KEEP_PRICE:
            return "their current price"
        return filters.fmt_money(params["price_minor"])

    def confirmation(self, count: int, params: dict) -> str:
        if params["mode"] is None:
            return f"Clear the pending mode change on {count:,} numbers?"
        return (f"Switch {count:,} numbers to {CAPACITY_MODES[params['mode']]} from their next renewal, "
                f"at {self._price(params)} a month?")

    def inputs(self, params: dict) -> str:
        if params["mode"] is None:
            return "Clear"
        return f"{CAPACITY_MODES[params['mode']]} at {self._price(params)} a month"


NEXT_MODE = NextModeAction()
