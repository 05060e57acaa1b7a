"""Input shapes for first run, login, passwords and users."""
from zoneinfo import available_timezones

from babel import Locale
from babel.numbers import list_currencies
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

_EN = Locale("en")
CURRENCIES = sorted(list_currencies())
COUNTRIES = sorted(((code, name) for code, name in _EN.territories.items()
                    if len(code) == 2 and code.isalpha() and code != "ZZ"), key=lambda c: c[1])
TIME_ZONES = sorted(available_timezones())
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
    currency = SelectField("Currency", choices=[(c, f"{c} — {_EN.currencies.get(c, c)}") for c in CURRENCIES])
    time_zone = SelectField("Time zone", choices=[(z, z) for z in TIME_ZONES])
    default_country = SelectField("Default country", choices=COUNTRIES)


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
    display_name = StringField("Name", validators=[
        DataRequired("Enter a name."), Length(1, 80, "Display name must be 1–80 characters.")])
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active")
