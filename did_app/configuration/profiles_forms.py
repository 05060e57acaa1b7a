"""Input shapes for configuration profiles, rules, the rule filters and the Test box."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from did_app.configuration.capacity_forms import parse_countries, split_list
from did_app.form_fields import AttachMixin
from did_app.models.numbers import NUMBER_TYPES

LIMIT_MESSAGE = "Enter a whole number from 1 to 32,767, or leave blank for no limit."
BLANK = ("", "— leave unchanged —")


def optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class ProfileForm(AttachMixin, FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(1, 100, "Name must be 1–100 characters.")])
    voice_route_id = SelectField("Voice route", coerce=optional_int)
    sms_route_id = SelectField("SMS route", coerce=optional_int)
    capacity_group_id = SelectField("Capacity group", coerce=optional_int)
    capacity_limit = IntegerField("Capacity limit", validators=[Optional(), NumberRange(1, 32767, LIMIT_MESSAGE)])
    description = StringField("Description", validators=[
        Length(max=255, message="Description must be at most 255 characters.")])
    version = HiddenField()

    def values(self) -> dict:
        return dict(name=self.name.data, voice_route_id=self.voice_route_id.data, sms_route_id=self.sms_route_id.data,
                    capacity_group_id=self.capacity_group_id.data, capacity_limit=self.capacity_limit.data,
                    description=self.description.data)


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RuleForm(AttachMixin, FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(1, 100, "Name must be 1–100 characters.")])
    profile_id = SelectField("Profile", coerce=optional_int)
    countries = StringField("Countries")
    number_types = CheckboxesField("Number types", choices=list(NUMBER_TYPES.items()))
    regions = StringField("Regions")
    cities = StringField("Cities")
    enabled = BooleanField("Enabled", default=True)
    version = HiddenField()

    def validate_profile_id(self, field):
        if field.data is None:
            raise ValidationError("Choose a profile.")

    def validate_countries(self, field):
        field.codes = parse_countries(field.data)

    def values(self) -> dict:
        return dict(name=self.name.data, profile_id=self.profile_id.data, countries=self.countries.codes,
                    number_types=self.number_types.data or [], regions=split_list(self.regions.data),
                    cities=split_list(self.cities.data), enabled=self.enabled.data)


class RuleFilterForm(FlaskForm):
    """The rules page filters: a GET form, so no CSRF token."""
    class Meta:
        csrf = False

    name = StringField("Name contains")
    country = StringField("Country", validators=[Optional(), Length(2, 3, "Enter an ISO code such as DE.")])
    profile = SelectField("Profile", coerce=optional_int, validate_choice=False)
    type = SelectField("Number type", choices=[("", "Any type"), *NUMBER_TYPES.items()], validate_choice=False)


class RuleTestForm(FlaskForm):
    class Meta:
        csrf = False

    number = StringField("Number")
