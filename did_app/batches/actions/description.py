"""Update description (batch.md §3): text ≤ 255, empty clears; cleaned as the single-number edit."""
import sqlalchemy as sa
from wtforms import StringField

from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import differs, typed
from did_app.models import Number
from did_app.numbers import edits


class DescriptionForm(InputForm):
    description = StringField("Description")


class DescriptionAction(Action):
    code, label = "description", "Update description"
    form = DescriptionForm
    writes = ("description",)

    def params_from(self, form) -> dict:
        form.read()
        return self.clean({"text": form.description.data})

    def clean(self, params: dict) -> dict:
        # DomainError under "description", with the single edit's message
        return {"text": edits.clean_description(params.get("text"))}

    def plan(self, params: dict) -> Plan:
        target = typed(params["text"], sa.String())
        return Plan(targets={"description": target},
                    rules=[Rule(sa.not_(differs(Number.description, target)), "skip",
                                "Already has this description")])

    def confirmation(self, count: int, params: dict) -> str:
        if params["text"] is None:
            return f"Clear the description of {count:,} numbers?"
        return f"Set the description of {count:,} numbers to “{params['text']}”?"

    def inputs(self, params: dict) -> str:
        return f"“{params['text']}”" if params["text"] else "(cleared)"


DESCRIPTION = DescriptionAction()
