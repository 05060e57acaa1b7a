"""Assign or unassign a voice route, or an SMS route (batch.md §3): changes `voice_in` (`sms_in`)
numbers whose route differs; the same messages as the single-number route edit."""
import sqlalchemy as sa
from wtforms import SelectField

from did_app import parsing
from did_app.batches.actions.base import Action, InputForm, Plan, Rule
from did_app.batches.sql import differs, typed
from did_app.db import db
from did_app.errors import DomainError
from did_app.models import Number, SmsRoute, VoiceRoute
from did_app.models.numbers import SMS_IN, VOICE_IN
from did_app.numbers import edits

NONE = "none"  # the select's value for "no route": blank means nothing was chosen
CHOOSE = "Choose a route from the list."


class RouteForm(InputForm):
    route = SelectField("Route", validate_choice=False)


def _has(bit):
    return Number.features.op("&")(bit) != 0


class RouteAction(Action):
    form = RouteForm
    model = VoiceRoute
    column = "voice_route_id"
    feature_bit = VOICE_IN
    no_feature = "No inbound voice"
    no_route = "No voice route"
    gone = "That voice route no longer exists."

    @property
    def writes(self):
        return (self.column,)

    reads = ("features",)

    def prepare_form(self, form) -> None:
        choices = edits.route_choices(self.model)
        form.route.choices = ([("", "Choose…")] + [(str(r.id), r.name) for r in choices["trunk"]]
                              + [(str(r.id), f"{r.name} (group)") for r in choices["group"]]
                              + [(NONE, "None (remove the route)")])

    def params_from(self, form) -> dict:
        form.read()
        raw = (form.route.data or "").strip()
        if raw == NONE:
            return {"route_id": None}
        route_id = parsing.query_id(raw)
        if route_id is None:
            raise DomainError(CHOOSE, "route")
        return {"route_id": route_id}

    def clean(self, params: dict) -> dict:
        route_id = params.get("route_id")
        if route_id is not None and db.session.get(self.model, route_id) is None:
            raise DomainError(self.gone, "route")
        return {"route_id": route_id}

    def _name(self, route_id) -> str:
        route = db.session.get(self.model, route_id) if route_id is not None else None
        return route.name if route is not None else f"#{route_id}"

    def plan(self, params: dict) -> Plan:
        route_id, column = params["route_id"], getattr(Number, self.column)
        rules = [Rule(sa.not_(_has(self.feature_bit)), "skip", self.no_feature)]
        if route_id is None:
            rules.append(Rule(column.is_(None), "skip", self.no_route))
        else:
            exists = sa.exists().where(self.model.id == typed(route_id, sa.Integer()))
            rules += [Rule(sa.not_(exists), "error", self.gone),
                      Rule(sa.not_(differs(column, typed(route_id, sa.Integer()))), "skip",
                           f"Already routed to {self._name(route_id)}")]
        return Plan(targets={self.column: typed(route_id, sa.Integer())}, rules=rules)

    def inputs(self, params: dict) -> str:
        return "None" if params["route_id"] is None else self._name(params["route_id"])


class VoiceRouteAction(RouteAction):
    code, label = "voice_route", "Assign / unassign voice route"

    def confirmation(self, count: int, params: dict) -> str:
        if params["route_id"] is None:
            return f"Remove the voice route from {count:,} numbers? Their inbound calls will go nowhere."
        return f"Route {count:,} numbers to {self._name(params['route_id'])}?"


class SmsRouteAction(RouteAction):
    code, label = "sms_route", "Assign / unassign SMS route"
    model, column, feature_bit = SmsRoute, "sms_route_id", SMS_IN
    no_feature, no_route, gone = "No inbound SMS", "No SMS route", "That SMS route no longer exists."

    def confirmation(self, count: int, params: dict) -> str:
        if params["route_id"] is None:
            return f"Remove the SMS route from {count:,} numbers? Inbound SMS will be off."
        return f"Route SMS for {count:,} numbers to {self._name(params['route_id'])}?"


VOICE_ROUTE, SMS_ROUTE = VoiceRouteAction(), SmsRouteAction()
