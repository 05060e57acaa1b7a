"""Input shapes for the number edits: the inline cells of the table and the details page's sections.

Every form carries the `version` the number was shown with (`version_of(form)` refuses a missing
one). `changes(form_data)` gives the posted fields as `edits.update_number()` changes, or raises
DomainError naming the first field it can't read, so the views answer 422 as for the service's
own refusals. Only the fields that were posted become changes: a section shows only the controls
that apply to the number. The rules (keeping the price, dropping the pool) live in the service.
"""
from flask import g
from flask_wtf import FlaskForm
from wtforms import StringField

from did_app import money, parsing
from did_app.errors import DomainError
from did_app.form_fields import BoundedIntegerField, CleanText, IdField, VersionField
from did_app.numbers import cells
from did_app.numbers.edits import CYCLES_MESSAGE, KEEP_PRICE, LIMIT_MESSAGE

CHANNELS_MESSAGE = "Enter a whole number of channels from 0 to 32,767."
CHOICE_MESSAGE = "Choose one from the list."


class NumberForm(CleanText, FlaskForm):
    class Meta(CleanText.Meta):
        csrf = False  # CSRFProtect has checked every post (form field or htmx header) before the view

    version = VersionField()

    def read(self) -> None:
        """Raise DomainError(message, field) for the first field, in form order, that can't be read."""
        if not self.validate():
            for field in self:
                if field.errors:
                    raise DomainError(field.errors[0], self.error_field(field.name))

    def error_field(self, name: str) -> str:
        return name


def _billing_cycles(mode: str | None, count: str | None) -> int | None:
    """The renewal control (mode and N) as billing_cycles_count; DomainError(field "renewal") otherwise."""
    if mode == "unlimited":
        return None
    if mode == "zero":
        return 0
    if mode != "count":
        raise DomainError("Choose a renewal mode from the list.", "renewal")
    value = parsing.query_int(count, 1, 999)
    if value is None:
        raise DomainError(CYCLES_MESSAGE, "renewal")
    return value


# ------------------------------------------------------------------ inline cells (numbers.md §7.2)

class DescriptionCellForm(NumberForm):
    value = StringField("Description")

    def changes(self, formdata) -> dict:
        self.read()
        return {"description": self.value.data or ""}


class RouteCellForm(NumberForm):
    value = IdField("Route", message="Choose a route from the list.")

    def __init__(self, *args, field: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.cell = field

    def error_field(self, name: str) -> str:
        return self.cell

    def changes(self, formdata) -> dict:
        self.read()
        return {cells.CELLS[self.cell][2]: self.value.data}


class LimitCellForm(NumberForm):
    value = BoundedIntegerField("Capacity limit", lo=1, hi=32767, message=LIMIT_MESSAGE)

    def error_field(self, name: str) -> str:
        return "capacity_limit"

    def changes(self, formdata) -> dict:
        self.read()
        return {"capacity_limit": self.value.data}


class RenewalCellForm(NumberForm):
    mode = StringField("Renewal")
    count = StringField("N")

    def changes(self, formdata) -> dict:
        self.read()
        return {"billing_cycles_count": _billing_cycles(self.mode.data, self.count.data)}


def cell_form(field: str):
    """The form of one editable cell of the table."""
    if field in ("voice_route", "sms_route"):
        return RouteCellForm(field=field)
    return {"description": DescriptionCellForm, "capacity_limit": LimitCellForm,
            "renewal": RenewalCellForm}[field]()


# ------------------------------------------------------------------ details page sections

class SectionForm(NumberForm):
    def changes(self, formdata) -> dict:
        """The posted fields as changes (a blank dedicated count is 0)."""
        self.read()
        changes = {}
        for field in self:
            if field.name == "version" or field.name not in formdata:
                continue
            if field.name == "description":
                changes["description"] = field.data or ""
            elif field.name == "dedicated_channels":
                changes["dedicated_channels"] = field.data or 0
            elif field.name == "next_capacity_mode":
                changes["next_capacity_mode"] = field.data or None
                if changes["next_capacity_mode"]:
                    changes["next_monthly_price_minor"] = self._next_price(formdata)
            elif field.name == "mode":
                changes["billing_cycles_count"] = _billing_cycles(self.mode.data, self.count.data)
            elif field.name not in ("next_monthly_price", "count"):
                changes[field.name] = field.data
        return changes

    def _next_price(self, formdata):
        """The posted next price; the one-click switch posts none and keeps today's price."""
        if "next_monthly_price" not in formdata:
            return KEEP_PRICE
        return money.parse(self.next_monthly_price.data, g.workspace.currency, "next_monthly_price_minor")


class GeneralForm(SectionForm):
    description = StringField("Description")


class TrunksForm(SectionForm):
    voice_route_id = IdField("Voice route", message=CHOICE_MESSAGE)
    sms_route_id = IdField("SMS route", message=CHOICE_MESSAGE)


class CapacityForm(SectionForm):
    capacity_group_id = IdField("Capacity group", message=CHOICE_MESSAGE)
    dedicated_channels = BoundedIntegerField("Dedicated channels", lo=0, hi=32767, message=CHANNELS_MESSAGE)
    capacity_pool_id = IdField("From pool", message=CHOICE_MESSAGE)
    capacity_limit = BoundedIntegerField("Capacity limit", lo=1, hi=32767, message=LIMIT_MESSAGE)
    next_capacity_mode = StringField("Next capacity mode")
    next_monthly_price = StringField("Next monthly price")


class BillingForm(SectionForm):
    mode = StringField("Renewal")
    count = StringField("N")


FIX_CHOICE_MESSAGES = {"voice_route_id": "Choose a voice trunk or trunk group.",
                       "sms_route_id": "Choose an SMS trunk or SMS trunk group.",
                       "capacity_group_id": "Choose a capacity group.", "capacity_pool_id": "Choose a pool."}


class FixForm(SectionForm):
    """A readiness fix: its select left at "Choose…" is no choice (there an empty route is not "None")."""

    voice_route_id = IdField("Voice route", message=CHOICE_MESSAGE)
    sms_route_id = IdField("SMS route", message=CHOICE_MESSAGE)
    capacity_group_id = IdField("Capacity group", message=CHOICE_MESSAGE)
    dedicated_channels = BoundedIntegerField("Dedicated channels", lo=0, hi=32767, message=CHANNELS_MESSAGE)
    capacity_pool_id = IdField("Pool", message=CHOICE_MESSAGE)
    next_capacity_mode = StringField("Next capacity mode")

    def changes(self, formdata) -> dict:
        for name, message in FIX_CHOICE_MESSAGES.items():
            if name in formdata and not (formdata.get(name) or "").strip():
                raise DomainError(message, name)
        return super().changes(formdata)


SECTION_FORMS = {"general": GeneralForm, "trunks": TrunksForm, "capacity": CapacityForm,
                 "billing": BillingForm, "fix": FixForm}
