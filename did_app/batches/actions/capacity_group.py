"""Update capacity group (batch.md §3, configuration.md §6): a group or None. A number joins when
it may (rules/capacity.py's SQL form of join_group_refusal) and is not in it already; a group's
channels are shared, so there is no batch error."""
import sqlalchemy as sa
from wtforms import SelectField

from did_app import parsing
from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import differs, typed
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import CapacityGroup, CapacityPool, Number
from did_app.rules import capacity as capacity_rules

NONE = "none"  # the select's value for "no group": blank means nothing was chosen
CHOOSE = "Choose a capacity group from the list."
GONE = "That capacity group no longer exists."
CANNOT_TAKE = "Cannot take additional channels"


class CapacityGroupForm(InputForm):
    group = SelectField("Capacity group", validate_choice=False)


def not_covered(pool: CapacityPool):
    """The batch's reason for a number whose country the pool does not cover (the row's country)."""
    return typed(f"Pool {pool.name} does not cover ", sa.String()) + Number.country


class CapacityGroupAction(Action):
    code, label = "capacity_group", "Update capacity group"
    form = CapacityGroupForm
    writes = ("capacity_group_id",)
    reads = ("allow_additional_channels", "country")

    def prepare_form(self, form) -> None:
        groups = db.session.execute(sa.select(CapacityGroup.id, CapacityGroup.name).order_by(CapacityGroup.name)).all()
        form.group.choices = ([("", "Choose…")] + [(str(g.id), g.name) for g in groups]
                              + [(NONE, "None (take out of the group)")])

    def params_from(self, form) -> dict:
        form.read()
        raw = (form.group.data or "").strip()
        if raw == NONE:
            return {"group_id": None}
        group_id = parsing.query_id(raw)
        if group_id is None:
            raise DomainError(CHOOSE, "group")
        return {"group_id": group_id}

    def clean(self, params: dict) -> dict:
        group_id = params.get("group_id")
        if group_id is not None and db.session.get(CapacityGroup, group_id) is None:
            raise DomainError(GONE, "group")
        return {"group_id": group_id}

    def _group(self, params) -> CapacityGroup | None:
        return db.session.get(CapacityGroup, params["group_id"]) if params["group_id"] is not None else None

    def plan(self, params: dict) -> Plan:
        column = Number.capacity_group_id
        if params["group_id"] is None:
            return Plan(targets={"capacity_group_id": typed(None, sa.Integer())},
                        rules=[Rule(column.is_(None), "skip", "Not in a group")])
        group = self._group(params)
        if group is None:  # deleted since the preview: every number is an error
            return Plan(targets={}, rules=[Rule(sa.true(), "error", GONE)])
        target = typed(group.id, sa.Integer())
        pool = db.session.get(CapacityPool, group.pool_id)
        # the rule's conditions, in its order; the batch words its reasons as batch.md §3 does
        (cannot_take, _), (uncovered, _) = capacity_rules.join_group_refusals_sql(group, pool)
        return Plan(targets={"capacity_group_id": target}, rules=[
            Rule(sa.not_(differs(column, target)), "skip", f"Already in {group.name}"),
            Rule(cannot_take, "skip", CANNOT_TAKE),
            Rule(uncovered, "skip", not_covered(pool)),
        ])

    def stale_condition(self, params: dict):
        if params["group_id"] is not None and self._group(params) is None:
            return sa.true()
        return super().stale_condition(params)

    def confirmation(self, count: int, params: dict) -> str:
        if params["group_id"] is None:
            return f"Take {count:,} numbers out of their capacity groups?"
        return f"Move {count:,} numbers into capacity group {self.inputs(params)}?"

    def inputs(self, params: dict) -> str:
        if params["group_id"] is None:
            return "None"
        group = self._group(params)
        return group.name if group is not None else f"#{params['group_id']}"


CAPACITY_GROUP = CapacityGroupAction()
