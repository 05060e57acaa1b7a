"""Input shapes for first run, login, passwords and users."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from did_app import parsing
from did_app import reference_lists as lists
from did_app.form_fields import BoundedIntegerField, VersionField

ROLE_CHOICES = [("admin", "Admin"), ("operator", "Operator"), ("viewer", "Viewer")]


class AttachMixin:
    def attach(self, err) -> None:
        """Put a DomainError under its field (or on the form when it names none)."""
        field = getattr(self, err.field, None) if err.field else None
        if field is not None:
            field.errors = [*field.errors, err.message]
        else:
            self.form_errors.append(err.message)


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


class SettingsForm(AttachMixin, FlaskForm, SettingsFields):
    version = VersionField()
    warn_days = BoundedIntegerField("Time-left warn (days)", validators=[InputRequired("Enter a whole number of days.")],
        lo=1, hi=90, message="Enter 1–90 days.")
    critical_days = BoundedIntegerField("Time-left critical (days)", validators=[InputRequired("Enter a whole number of days.")],
        lo=1, hi=90, message="Enter 1–90 days.")
    reminder_offsets = StringField("Reminder offsets (days before)", validators=[DataRequired("Enter 1–6 offsets.")])
    forecast_horizon_days = BoundedIntegerField("Forecast horizon (days)", validators=[InputRequired("Enter a whole number of days.")],
        lo=7, hi=90, message="Enter 7–90 days.")
    registration_deadline_days = BoundedIntegerField("Registration deadline (days)", validators=[InputRequired("Enter a whole number of days.")],
        lo=1, hi=365, message="Enter 1–365 days.")
    resubmit_grace_days = BoundedIntegerField("Resubmit grace after rejection (days)", validators=[InputRequired("Enter a whole number of days.")],
        lo=0, hi=60, message="Enter 0–60 days.")
    aging_pool_days = BoundedIntegerField("Aging pool (days)", validators=[InputRequired("Enter a whole number of days.")],
        lo=1, hi=90, message="Enter 1–90 days.")
    restore_window_days = BoundedIntegerField("Restore window (days)", validators=[InputRequired("Enter a whole number of days.")],
        lo=1, hi=90, message="Enter 1–90 days.")
    undo_window_hours = BoundedIntegerField("Undo window (hours, 0 = off)", validators=[InputRequired("Enter a whole number of hours.")],
        lo=0, hi=168, message="Enter 0–168 hours.")
    digest_hour = BoundedIntegerField("Digest hour (local time)", validators=[InputRequired("Enter an hour.")],
        lo=0, hi=23, message="Enter an hour from 0 to 23.")

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
