"""Input shapes for capacity pools, channel changes and capacity groups."""
from decimal import Decimal

from babel import Locale
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from did_app import money, parsing
from did_app.errors import DomainError
from did_app.form_fields import AttachMixin, BoundedIntegerField, CleanText, IdField, SafeDateField, VersionField

KNOWN_COUNTRIES = frozenset(code for code in Locale("en").territories
                            if len(code) == 2 and code.isalpha() and code != "ZZ") | {"001"}
QUANTITY_MESSAGE = "Enter a whole number of channels, 1 or more."
MAX_CHANNELS = 2_147_483_647  # the channel columns are INTEGER on PostgreSQL


def split_list(text: str | None) -> list[str]:
    """Items separated by commas or new lines, trimmed, blanks dropped."""
    return [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]


def parse_countries(text: str | None) -> list[str]:
    """ISO codes separated by commas or spaces; raises ValidationError naming an unknown one."""
    codes = [c.upper() for c in (text or "").replace(",", " ").split()]
    unknown = [c for c in codes if c not in KNOWN_COUNTRIES]
    if unknown:
        raise ValidationError(f"Unknown country code: {unknown[0]}.")
    return sorted(set(codes))


class PoolForm(AttachMixin, CleanText, FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(1, 100, "Name must be 1–100 characters.")])
    countries = StringField("Countries", validators=[DataRequired("Enter at least one country code.")])
    setup_price = StringField("Setup price per channel", validators=[DataRequired("Enter a price, e.g. 1.00.")])
    monthly_price = StringField("Monthly price per channel", validators=[DataRequired("Enter a price, e.g. 8.00.")])
    metered_rate = StringField("Metered rate per minute", validators=[Optional()])
    renew_date = SafeDateField("Next renewal", validators=[InputRequired("Enter the next renewal date.")])
    version = VersionField()

    def __init__(self, *args, currency: str = "USD", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def _minor(self, field) -> None:
        try:
            field.minor = money.parse(field.data, self.currency)
        except DomainError as err:
            raise ValidationError(err.message) from None
        if field.minor < 0:
            raise ValidationError("Prices can't be negative.")

    def validate_countries(self, field):
        field.codes = parse_countries(field.data)
        if not field.codes:
            raise ValidationError("Enter at least one country code.")

    def validate_setup_price(self, field):
        self._minor(field)

    def validate_monthly_price(self, field):
        self._minor(field)

    def validate_metered_rate(self, field):
        rate = parsing.query_decimal(field.data)
        if rate is None:
            raise ValidationError("Enter a rate such as 0.0065.")
        if rate != rate.quantize(Decimal("0.000001")):
            raise ValidationError("Use at most 6 decimal places.")
        if not Decimal(0) <= rate < Decimal(10) ** 6:
            raise ValidationError("Enter a rate from 0 to 999999.999999.")
        field.rate = rate

    def values(self) -> dict:
        """The service's keyword arguments, from a validated form."""
        return dict(name=self.name.data, countries=self.countries.codes, setup_price_minor=self.setup_price.minor,
                    monthly_price_minor=self.monthly_price.minor,
                    metered_rate=getattr(self.metered_rate, "rate", None) if self.metered_rate.data else None,
                    renew_date=self.renew_date.data)


class NewPoolForm(PoolForm):
    quantity = BoundedIntegerField("Channels to buy now", default=0, lo=0, hi=100_000,
                                   message="Enter 0–100,000 channels.",
                                   validators=[InputRequired("Enter 0 or more channels.")])


class ChannelsForm(AttachMixin, CleanText, FlaskForm):
    quantity = BoundedIntegerField("Channels", lo=1, hi=100_000, message=QUANTITY_MESSAGE,
                                   validators=[InputRequired(QUANTITY_MESSAGE)])


class GroupForm(AttachMixin, CleanText, FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name."),
                                           Length(1, 100, "Name must be 1–100 characters.")])
    description = StringField("Description", validators=[
        Length(max=255, message="Description must be at most 255 characters.")])
    pool_id = IdField("Pool", message="Choose a pool.")
    shared_channels = BoundedIntegerField("Shared channels", default=0, lo=0, hi=MAX_CHANNELS,
                                          message="Enter a whole number of channels, 0 or more.",
                                          validators=[InputRequired("Enter a whole number of channels.")])
    metered_channels = BoundedIntegerField("Metered channels", default=0, lo=0, hi=1000,
                                           message="Metered channels must be 0–1,000.",
                                           validators=[InputRequired("Metered channels must be 0–1,000.")])
    version = VersionField()

    def validate_pool_id(self, field):
        if field.errors:  # the posted text was no id: its message is there already
            return
        if field.data is None or field.data not in {value for value, _ in self.pool_id.choices if value != ""}:
            raise ValidationError("Choose a pool.")

    def values(self) -> dict:
        return dict(name=self.name.data, description=self.description.data, pool_id=self.pool_id.data,
                    shared_channels=self.shared_channels.data, metered_channels=self.metered_channels.data)
