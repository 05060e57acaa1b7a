"""Input shapes for top-ups and adjustments: amounts typed in major units."""
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from did_app import money
from did_app.errors import DomainError
from did_app.form_fields import AttachMixin


class _AmountForm(AttachMixin, FlaskForm):
    def __init__(self, *args, currency: str = "USD", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def validate_amount(self, field):
        try:
            field.minor = money.parse(field.data, self.currency)
        except DomainError as err:
            raise ValidationError(err.message) from None


class TopUpForm(_AmountForm):
    amount = StringField("Amount", validators=[DataRequired("Enter an amount, e.g. 250.00.")],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    note = StringField("Note (optional)", validators=[Length(max=500, message="Notes can be at most 500 characters.")])


class AdjustmentForm(_AmountForm):
    amount = StringField("Amount",
                         validators=[DataRequired("Enter an amount, e.g. -12.50 or 40.00.")],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    note = StringField("Note", validators=[DataRequired("Enter a note saying why the balance is adjusted."),
                                           Length(max=500, message="Notes can be at most 500 characters.")])
