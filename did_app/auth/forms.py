"""Input shapes for first run, login, passwords and users."""
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from did_app import parsing
from did_app import reference_lists as lists
from did_app.form_fields import AttachMixin, BoundedIntegerField, VersionField

ROLE_CHOICES = [("admin", "Admin"), ("operator", "Operator"), ("viewer", "Viewer")]


class SettingsFields:
    workspace_name = StringField("Workspace name", validators=[
        DataRequired("Enter a workspace name."), Length(1, 80, "Workspace name must be 1–80 characters.")])
    currency = SelectField("Currency", choices=lists.CURRENCY_CHOICES)
    time_zone = SelectField("Time zone", choices=lists.TIME_ZONE_CHOICES)
    default_country = SelectField("Default country", choices=lists.COUNTRY_CHOICES)

    def fit_to(self, ws, currency_locked: bool) -> None:
        """Offer the stored values even when they left the lists; drop a locked currency.

        A locked field is never posted by the browser, so it must not be validated either:
        the stored currency stays as it is on the server side.
        """
        self.currency.choices = lists.with_current(lists.CURRENCY_CHOICES, ws.currency, lists.currency_label)
        self.time_zone.choices = lists.with_current(lists.TIME_ZONE_CHOICES, ws.time_zone)
        self.default_country.choices = lists.with_current(lists.COUNTRY_CHOICES, ws.default_country)
        if currency_locked:
            del self.currency


class SetupForm(AttachMixin, FlaskForm, SettingsFields):
    display_name = StringField("Your name", validators=[
        DataRequired("Enter your name."), Length(1, 80, "Display name must be 1–80 characters.")])
    email = EmailField("Email", validators=[DataRequired("Enter your email."),
                                            Email("Enter a valid email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter a password.")])
    confirm = PasswordField("Confirm password", validators=[DataRequired("Confirm the password.")])


class LoginForm(AttachMixin, FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class ChangePasswordForm(AttachMixin, FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    password = PasswordField("New password", validators=[DataRequired("Enter a new password.")])
    confirm = PasswordField("Confirm new password", validators=[DataRequired("Confirm the password.")])


class NewUserForm(AttachMixin, FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter an email."),
                                            Email("Enter a valid email address."), Length(max=254)])
    display_name = StringField("Name", validators=[
        DataRequired("Enter a name."), Length(1, 80, "Display name must be 1–80 characters.")])
    role = SelectField("Role", choices=ROLE_CHOICES, default="operator")
    password = PasswordField("Password (blank to generate one)")


class EditUserForm(AttachMixin, FlaskForm):
    version = VersionField()
    display_name = StringField("Name", validators=[
        DataRequired("Enter a name."), Length(1, 80, "Display name must be 1–80 characters.")])
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active")


def http_url(text: str) -> bool:
    """An absolute http(s) URL with a host and a valid port, and nothing a header could not carry."""
    if any(c.isspace() or not c.isprintable() for c in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _whole(label: str, lo: int, hi: int, unit: str = "days") -> BoundedIntegerField:
    """A required whole number of days (or hours) from `lo` to `hi`, as most settings are."""
    return BoundedIntegerField(label, validators=[InputRequired(f"Enter a whole number of {unit}.")],
                               lo=lo, hi=hi, message=f"Enter {lo}–{hi} {unit}.")


class SettingsForm(AttachMixin, FlaskForm, SettingsFields):
    version = VersionField()
    warn_days = _whole("Time-left warn (days)", 1, 90)
    critical_days = _whole("Time-left critical (days)", 1, 90)
    reminder_offsets = StringField("Reminder offsets (days before)", validators=[DataRequired("Enter 1–6 offsets.")])
    forecast_horizon_days = _whole("Forecast horizon (days)", 7, 90)
    registration_deadline_days = _whole("Registration deadline (days)", 1, 365)
    resubmit_grace_days = _whole("Resubmit grace after rejection (days)", 0, 60)
    aging_pool_days = _whole("Aging pool (days)", 1, 90)
    restore_window_days = _whole("Restore window (days)", 1, 90)
    undo_window_hours = _whole("Undo window (hours, 0 = off)", 0, 168, unit="hours")
    digest_hour = BoundedIntegerField("Digest hour (local time)", validators=[InputRequired("Enter an hour.")],
                                      lo=0, hi=23, message="Enter an hour from 0 to 23.")

    webhook_url = StringField("Webhook URL", validators=[Length(max=2000, message="Enter at most 2,000 characters.")])
    webhook_secret = StringField("Webhook secret", validators=[Length(max=128, message="Enter at most 128 characters.")])
    webhook_enabled = BooleanField("Send notifications to the webhook")

    def validate_webhook_url(self, field):
        url = (field.data or "").strip()
        if not url:
            if self.webhook_enabled.data:
                raise ValidationError("Enter the webhook URL to turn the webhook on.")
            return
        if not http_url(url):
            raise ValidationError("Enter an http or https URL, e.g. https://example.com/hooks/did.")

    def validate_webhook_secret(self, field):
        if (field.data or "").strip() and len(field.data.strip()) < 16:
            raise ValidationError("Enter at least 16 characters, or leave it blank to have one generated.")

    def validate_critical_days(self, field):
        if self.warn_days.data is not None and field.data is not None and field.data >= self.warn_days.data:
            raise ValidationError("Critical days must be fewer than warn days.")

    def validate_reminder_offsets(self, field):
        parts = [p.strip() for p in (field.data or "").split(",") if p.strip()]
        values = [parsing.query_int(p, 0, parsing.MAX_ID) for p in parts]
        if None in values:
            raise ValidationError("Enter whole numbers of days separated by commas, e.g. 30, 7, 1.")
        if not 1 <= len(values) <= 6 or len(set(values)) != len(values) or not all(1 <= v <= 365 for v in values):
            raise ValidationError("Enter 1–6 different offsets, each 1–365 days.")
        field.parsed = sorted(values, reverse=True)
