"""Update capacity limit (batch.md §3): 1–32,767 or blank for no limit, as the single-number edit."""
import sqlalchemy as sa

from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import differs, typed
from did_app.errors import DomainError
from did_app.form_fields import BoundedIntegerField
from did_app.models import Number
from did_app.numbers.edits import LIMIT_MESSAGE


class CapacityLimitForm(InputForm):
    capacity_limit = BoundedIntegerField("Capacity limit", lo=1, hi=32767, message=LIMIT_MESSAGE)


def _words(limit) -> str:
    return "no limit" if limit is None else f"{limit:,}"


class CapacityLimitAction(Action):
    code, label = "capacity_limit", "Update capacity limit"
    form = CapacityLimitForm
    writes = ("capacity_limit",)

    def params_from(self, form) -> dict:
        form.read()
        return self.clean({"limit": form.capacity_limit.data})

    def clean(self, params: dict) -> dict:
        limit = params.get("limit")
        if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 32767):
            raise DomainError(LIMIT_MESSAGE, "capacity_limit")
        return {"limit": limit}

    def plan(self, params: dict) -> Plan:
        target = typed(params["limit"], sa.Integer())
        return Plan(targets={"capacity_limit": target},
                    rules=[Rule(sa.not_(differs(Number.capacity_limit, target)), "skip",
                                f"Already {_words(params['limit'])}")])

    def confirmation(self, count: int, params: dict) -> str:
        return f"Set the capacity limit of {count:,} numbers to {_words(params['limit'])}?"

    def inputs(self, params: dict) -> str:
        return _words(params["limit"])


CAPACITY_LIMIT = CapacityLimitAction()
