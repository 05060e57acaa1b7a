"""Change billing cycles (batch.md §3): auto-renew (unlimited), won't renew (0) or N more renewals
(1–999) on live, awaiting and porting numbers whose count differs, with the single-number edit's
messages; cancelled and expired numbers are skipped."""
import sqlalchemy as sa
from wtforms import RadioField

from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import differs, typed
from did_app.db import db
from did_app.errors import DomainError
from did_app.form_fields import BoundedIntegerField
from did_app.lifecycle import forecast
from did_app.models import Number
from did_app.numbers.edits import CYCLES_MESSAGE

CHOOSE = "Choose how these numbers renew."


class BillingCyclesForm(InputForm):
    renewal = RadioField("Renewal", choices=[("auto", "Auto-renew (unlimited)"), ("none", "Won't renew (0)"),
                                             ("count", "A number of renewals")], validate_choice=False)
    billing_cycles_count = BoundedIntegerField("Renewals (1–999)", lo=1, hi=999, message=CYCLES_MESSAGE)


def _words(cycles) -> str:
    if cycles is None:
        return "auto-renew"
    return "not renew" if cycles == 0 else f"renew {cycles:,} more times"


def _already(cycles) -> str:
    if cycles is None:
        return "Already auto-renewing"
    return "Already not renewing" if cycles == 0 else f"Already {cycles:,} more renewals"


class BillingCyclesAction(Action):
    code, label = "billing_cycles", "Change billing cycles"
    form = BillingCyclesForm
    writes = ("billing_cycles_count",)
    reads = ("cancelled_at", "expired_at", "porting", "awaiting_registration", "expires_at")

    def params_from(self, form) -> dict:
        form.read()
        choice = form.renewal.data
        if choice == "auto":
            return {"cycles": None}
        if choice == "none":
            return {"cycles": 0}
        if choice == "count":
            if form.billing_cycles_count.data is None:
                raise DomainError(CYCLES_MESSAGE, "billing_cycles_count")
            return self.clean({"cycles": form.billing_cycles_count.data})
        raise DomainError(CHOOSE, "renewal")

    def clean(self, params: dict) -> dict:
        cycles = params.get("cycles")
        if cycles is not None and (not isinstance(cycles, int) or isinstance(cycles, bool) or not 0 <= cycles <= 999):
            raise DomainError(CYCLES_MESSAGE, "billing_cycles_count")
        return {"cycles": cycles}

    def plan(self, params: dict) -> Plan:
        target = typed(params["cycles"], sa.Integer())
        return Plan(targets={"billing_cycles_count": target}, rules=[
            Rule(Number.cancelled_at.is_not(None), "skip", "Cancelled — restore resets renewal"),
            Rule(Number.expired_at.is_not(None), "skip", "Expired — renew first"),
            Rule(sa.not_(differs(Number.billing_cycles_count, target)), "skip", _already(params["cycles"])),
        ])

    def confirmation(self, count: int, params: dict) -> str:
        return f"Set {count:,} numbers to {_words(params['cycles'])}?"

    def inputs(self, params: dict) -> str:
        return _words(params["cycles"]).capitalize()

    def apply(self, batch_id: int, actor, now, note: str | None) -> None:
        super().apply(batch_id, actor, now, note)
        forecast.recompute_cutoff(db.session)  # what renews moved the renewal-risk cutoff


BILLING_CYCLES = BillingCyclesAction()
