"""Input shapes for adding numbers, port-in requests and the Orders and Port-ins filters."""
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from did_app import money, parsing
from did_app.configuration.capacity_forms import KNOWN_COUNTRIES
from did_app.configuration.profiles_forms import CheckboxesField
from did_app.errors import DomainError
from did_app.form_fields import (
    AttachMixin,
    BoundedIntegerField,
    CleanText,
    IdField,
    IdListField,
    SafeDateField,
    VersionField,
    paste_limit,
)
from did_app.intake.service import AddInput, Common
from did_app.models.lifecycle import PORT_STATUSES
from did_app.models.numbers import CAPACITY_MODES, FEATURES, NUMBER_TYPES

TABS = {"single": "Single", "range": "Range", "list": "List"}
LIMIT_MESSAGE = "Enter a whole number from 1 to 32,767, or leave blank for no limit."
CYCLES_MESSAGE = "Enter a whole number from 0 to 999, or leave blank for unlimited."
CHANNELS_MESSAGE = "Enter a whole number of channels from 1 to 10,000."
BLANK = ("", "— none —")


class OneOf:
    """A choice from the list, or blank (a select that was not posted reads as blank)."""

    def __call__(self, form, field):
        if field.data not in (None, "") and field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Choose a value from the list.")


def tab_of(value) -> str:
    return value if value in TABS else "single"


class CommonFields:
    """§2's common fields: they apply to every number of an add or a port-in request."""
    number_type = SelectField("Number type", choices=[("", "Detected per number"), *NUMBER_TYPES.items()],
                              validate_choice=False, validators=[OneOf()])
    features = CheckboxesField("Features", choices=[(code, label) for code, (label, _) in FEATURES.items()],
                               default=["voice_in"])
    needs_registration = SelectField("Needs registration", choices=[
        ("", "From requirements"), ("yes", "Yes, for every number"), ("no", "No")],
        validate_choice=False, validators=[OneOf()])
    capacity_mode = SelectField("Capacity mode", choices=[("", "By number type"), *CAPACITY_MODES.items()],
                                validate_choice=False, validators=[OneOf()])
    channels_included = BoundedIntegerField("Channels included (fixed)", default=300, lo=1, hi=10_000,
                                            message=CHANNELS_MESSAGE)
    allow_additional_channels = BooleanField("Allow additional channels", default=True)
    monthly_price = StringField("Monthly price", validators=[DataRequired("Enter a monthly price, e.g. 1.50.")])
    setup_price = StringField("Setup price", default="0")
    billing_cycles = StringField("Billing cycles")
    description = StringField("Description", validators=[
        Length(max=255, message="Description must be at most 255 characters.")])
    voice_route_id = IdField("Voice route")
    sms_route_id = IdField("SMS route")
    capacity_group_id = IdField("Capacity group")
    capacity_limit = BoundedIntegerField("Capacity limit", lo=1, hi=32767, message=LIMIT_MESSAGE)
    order_reference = StringField("External order reference", validators=[
        Length(max=100, message="External order reference must be at most 100 characters.")])

    def _money(self, field, currency: str) -> int:
        text = (field.data or "").strip()
        if not text:
            return 0
        try:
            minor = money.parse(text, currency)
        except DomainError as err:
            raise ValidationError(err.message) from None
        if minor < 0:
            raise ValidationError("Prices can't be negative.")
        return minor

    def validate_monthly_price(self, field):
        field.minor = self._money(field, self.currency)

    def validate_setup_price(self, field):
        field.minor = self._money(field, self.currency)

    def validate_billing_cycles(self, field):
        text = (field.data or "").strip().lower()
        field.count = None if text in ("", "unlimited") else parsing.query_int(text, 0, 999)
        if field.count is None and text not in ("", "unlimited"):
            raise ValidationError(CYCLES_MESSAGE)

    def validate_features(self, field):
        if not field.data:
            raise ValidationError("Choose at least one feature.")

    def validate_channels_included(self, field):
        if self.capacity_mode.data == "fixed" and field.data is None and not field.errors:
            raise ValidationError(CHANNELS_MESSAGE)

    def common(self, paid_until: datetime | None = None) -> Common:
        """The service's common fields, from a validated form."""
        fixed = self.capacity_mode.data == "fixed"
        return Common(
            monthly_price_minor=self.monthly_price.minor, setup_price_minor=self.setup_price.minor,
            number_type=self.number_type.data or None, features=tuple(self.features.data),
            needs_registration={"yes": True, "no": False}.get(self.needs_registration.data),
            capacity_mode=self.capacity_mode.data or None,
            channels_included=self.channels_included.data if fixed else None,
            allow_additional_channels=bool(self.allow_additional_channels.data),
            billing_cycles_count=self.billing_cycles.count, paid_until=paid_until,
            description=(self.description.data or "").strip() or None,
            voice_route_id=self.voice_route_id.data, sms_route_id=self.sms_route_id.data,
            capacity_group_id=self.capacity_group_id.data, capacity_limit=self.capacity_limit.data,
            order_reference=(self.order_reference.data or "").strip() or None)


class AddForm(AttachMixin, CleanText, FlaskForm, CommonFields):
    """Step 1 (and, as hidden copies, steps 2 and 3) of adding numbers."""
    tab = HiddenField(default="single")
    number = StringField("Number")
    first = StringField("First number")
    last = StringField("Last number")
    numbers = TextAreaField("Numbers", validators=[paste_limit], render_kw={"rows": 8})
    paid_until = SafeDateField("Paid until", render_kw={"aria-describedby": "paid_until-hint"})
    # step 2 of a single number: the detected location, editable
    located = HiddenField()
    country = StringField("Country")
    region = StringField("Region", validators=[Length(max=100, message="Region must be at most 100 characters.")])
    city = StringField("City", validators=[Length(max=100, message="City must be at most 100 characters.")])
    expected = HiddenField()  # how many numbers the confirmed preview was going to add

    def __init__(self, *args, currency: str = "USD", time_zone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency, self.time_zone = currency, time_zone
        self.tab.data = tab_of(self.tab.data)

    def _required(self, field, tab: str, message: str):
        if self.tab.data == tab and not (field.data or "").strip():
            raise ValidationError(message)

    def validate_number(self, field):
        self._required(field, "single", "Enter a number.")

    def validate_first(self, field):
        self._required(field, "range", "Enter the first number.")

    def validate_last(self, field):
        self._required(field, "range", "Enter the last number.")

    def validate_numbers(self, field):
        self._required(field, "list", "Paste at least one number.")

    def validate_country(self, field):
        code = (field.data or "").strip().upper()
        if self.located.data and code not in KNOWN_COUNTRIES:
            raise ValidationError("Enter an ISO country code such as US.")

    @property
    def is_located(self) -> bool:
        return self.tab.data == "single" and bool(self.located.data)

    def paid_until_at(self) -> datetime | None:
        """The paid-until date as 00:00 in the workspace time zone, in UTC."""
        day = self.paid_until.data
        if day is None:
            return None
        return datetime.combine(day, time.min, ZoneInfo(self.time_zone)).astimezone(timezone.utc)

    def add_input(self):
        located = self.is_located
        return AddInput(tab=self.tab.data, number=self.number.data or "", first=self.first.data or "",
                        last=self.last.data or "", text=self.numbers.data or "",
                        country=(self.country.data or "").strip().upper() if located else None,
                        region=(self.region.data or "").strip() if located else None,
                        city=(self.city.data or "").strip() if located else None)

    def expected_count(self) -> int | None:
        return parsing.query_int(self.expected.data, 0, parsing.MAX_ID)

    def carried(self, *, skip=()) -> list[tuple[str, str]]:
        """(name, value) of every posted value, for the hidden copies the next step posts back."""
        out = []
        for f in self:
            if f.name in ("csrf_token", "expected", *skip) or not f.raw_data:
                continue
            out.extend((f.name, value) for value in f.raw_data)
        return out


class PortInDetailsFields:
    """A port-in request's own fields (lifecycle.md §4)."""
    losing_carrier = StringField("Losing carrier", validators=[
        DataRequired("Enter the losing carrier."),
        Length(max=100, message="Losing carrier must be at most 100 characters.")])
    account_number = StringField("Account number at the losing carrier", validators=[
        Length(max=100, message="Account number must be at most 100 characters.")])
    requested_date = SafeDateField("Requested date")
    identity_id = IdField("Identity")
    notes = TextAreaField("Notes", validators=[Length(max=2000, message="Notes must be at most 2,000 characters.")],
                          render_kw={"rows": 3})

    def details(self) -> dict:
        return dict(losing_carrier=self.losing_carrier.data.strip(),
                    account_number=(self.account_number.data or "").strip() or None,
                    requested_date=self.requested_date.data, identity_id=self.identity_id.data,
                    notes=(self.notes.data or "").strip() or None)


class PortInForm(AttachMixin, CleanText, FlaskForm, PortInDetailsFields, CommonFields):
    """A new port-in request: its numbers, the losing carrier's details and the common fields."""
    numbers = TextAreaField("Numbers", validators=[DataRequired("Paste at least one number."), paste_limit],
                            render_kw={"rows": 6})

    def __init__(self, *args, currency: str = "USD", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency


class PortInDetailsForm(AttachMixin, CleanText, FlaskForm, PortInDetailsFields):
    """Editing a request's own fields while it is Pending or Changes required."""
    version = VersionField()


class PortInNumbersForm(AttachMixin, CleanText, FlaskForm):
    numbers = TextAreaField("Numbers to add", validators=[DataRequired("Paste at least one number."), paste_limit],
                            render_kw={"rows": 4})
    version = VersionField()


class PortInStatusForm(AttachMixin, CleanText, FlaskForm):
    target = HiddenField()
    comment = TextAreaField("Comment", validators=[
        Length(max=2000, message="Comment must be at most 2,000 characters.")])
    version = VersionField()


class RemoveNumbersForm(AttachMixin, CleanText, FlaskForm):
    version = VersionField()
    number_id = IdListField("Numbers", message="Choose the numbers from the list.")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        self.form_errors.extend(self.number_id.errors)  # its checkboxes sit in the table, not under a label
        return ok


class OrderFilterForm(CleanText, FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Reference contains")
    kind = SelectField("Kind", choices=[("", "Any kind"), ("add", "Add"), ("import", "Import"),
                                        ("port_in", "Port-in")], validate_choice=False)
    status = SelectField("Status", choices=[("", "Any status"), ("pending", "Pending"),
                                            ("completed", "Completed"), ("cancelled", "Cancelled")],
                         validate_choice=False)


class PortInFilterForm(CleanText, FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Reference or carrier contains")
    status = SelectField("Status", choices=[("", "Any status"), *PORT_STATUSES.items()], validate_choice=False)
