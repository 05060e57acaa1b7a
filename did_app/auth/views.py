"""First run, login, logout, own password, and the admin Users page."""
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.views import MethodView
from flask_login import current_user, login_user, logout_user

from did_app import audit
from did_app.auth import service
from did_app.auth.forms import ChangePasswordForm, EditUserForm, LoginForm, NewUserForm, SettingsForm, SetupForm
from did_app.db import db
from did_app.errors import Conflict, DomainError
from did_app.form_fields import version_of
from did_app.models import LedgerEntry, User
from did_app.notifications import deliveries, mailer
from did_app.security import role_required
from did_app.workspace import current_workspace

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a same-site relative path is honoured (browsers read a backslash as a slash: "/\\x" is "//x")."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and not urlsplit(target).netloc):
        return target
    return url_for("numbers.index")


def _currency_locked() -> bool:
    return db.session.scalar(sa.select(sa.exists().where(LedgerEntry.id.is_not(None))))


class Setup(MethodView):
    """First run: the form while no user exists. GET and POST are one endpoint (`auth.setup`), which
    the gatekeeper lets through unsigned."""

    def get(self):
        if service.any_user_exists():
            abort(404)
        ws = current_workspace()
        locked = _currency_locked()
        form = SetupForm(formdata=None, data={"workspace_name": ws.name, "currency": ws.currency,
                                              "time_zone": ws.time_zone, "default_country": ws.default_country})
        form.fit_to(ws, locked)
        return _setup_page(form, ws, locked, 200)

    def post(self):
        """The first-run form: the first admin and the workspace settings. A submit after another browser
        completed setup meanwhile goes to login with the service's message."""
        ws = current_workspace()
        locked = _currency_locked()
        form = SetupForm()
        form.fit_to(ws, locked)
        if form.validate_on_submit():
            settings = {"name": form.workspace_name.data.strip(), "time_zone": form.time_zone.data,
                        "default_country": form.default_country.data}
            if not locked:
                settings["currency"] = form.currency.data
            try:
                user = service.complete_setup(email=form.email.data, display_name=form.display_name.data,
                                              password=form.password.data, confirm=form.confirm.data,
                                              settings=settings)
            except service.SetupComplete as err:
                flash(err.message, "error")
                return redirect(url_for("auth.login"))
            except DomainError as err:
                form.attach(err)
            else:
                _start_session(user)
                flash("Welcome. Your workspace is ready.", "success")
                return redirect(url_for("numbers.index"))
        return _setup_page(form, ws, locked, 422 if form.errors or form.form_errors else 200)


class Settings(MethodView):
    """The workspace settings (admin): one endpoint (`auth.settings`) that the navigation marks current."""

    decorators = [role_required("admin")]

    def get(self):
        ws = current_workspace()
        locked = _currency_locked()
        return _settings_page(_settings_form(ws, locked, stored=True), ws, locked, 200)

    def post(self):
        ws = current_workspace()
        locked = _currency_locked()
        form = _settings_form(ws, locked, stored=False)
        status = 200
        if form.validate_on_submit():
            values = {k: getattr(form, k).data for k in SETTING_FIELDS}
            values.update(name=form.workspace_name.data.strip(), reminder_offsets=form.reminder_offsets.parsed,
                          **_webhook_values(form, ws))
            if not locked:
                values["currency"] = form.currency.data
            try:
                service.update_settings(audit.Actor.current(), values, version=version_of(form))
            except Conflict as err:
                db.session.rollback()  # the stored values, as the other admin saved them
                form, status = _settings_form(ws, locked, stored=True), 409
                form.form_errors.append(err.message)
            except DomainError as err:
                form.attach(err)
            else:
                flash("Settings saved.", "success")
                return redirect(url_for("auth.settings"))
        if status == 200 and (form.errors or form.form_errors):
            status = 422
        return _settings_page(form, ws, locked, status)


def _setup_page(form, ws, locked: bool, status: int):
    return render_template("auth/setup.html", form=form, currency_locked=locked,
                           stored_currency=ws.currency), status


def _start_session(user) -> None:
    """Put the session the service opened for `user` (its key on the user) into a fresh cookie."""
    session.clear()  # rotate: nothing from before the login survives
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not service.any_user_exists():
        return redirect(url_for("auth.setup"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.email.data, form.password.data, request.remote_addr or "-")
        except DomainError as err:
            form.attach(err)
        else:
            _start_session(user)
            if user.must_change_password:
                return redirect(url_for("auth.password", next=_safe_next(request.args.get("next"))))
            return redirect(_safe_next(request.args.get("next")))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:  # the gatekeeper has sent an ended session to login already
        service.logout(current_user)
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"))


@bp.get("/account")
def profile():
    return render_template("auth/profile.html", live_sessions=service.live_sessions(current_user.id),
                           calendar_url=_calendar_url(service.calendar_token(current_user.id)))


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere():
    service.sign_out_everywhere(current_user.id)
    logout_user()
    session.clear()
    flash("You are signed out everywhere, on this browser too.", "success")
    return redirect(url_for("auth.login"))


def _calendar_url(token: str) -> str:
    """The feed's full address for calendar apps: BASE_URL (which carries any sub-path) + the route."""
    path = url_for("calendar.feed", token=token)
    if request.script_root and path.startswith(request.script_root):
        path = path[len(request.script_root):]
    return current_app.config["BASE_URL"].rstrip("/") + path


@bp.post("/account/digest")
def digest_opt_in():
    """The digest checkbox: a missing field is an unticked box (browsers send nothing for it)."""
    opt_in = request.form.get("digest_opt_in") in ("y", "on", "1", "true")
    service.set_digest_opt_in(current_user.id, opt_in)
    flash("You will get the daily email digest." if opt_in else "You will get no email digest.", "success")
    return redirect(url_for("auth.profile"), 303)


@bp.post("/account/calendar/reset")
def calendar_reset():
    service.reset_calendar_token(current_user.id)
    flash("The calendar link was reset: the old link no longer works. Subscribe again with the new one.",
          "success")
    return redirect(url_for("auth.profile") + "#calendar-heading", 303)


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = service.change_password(current_user.id, current=form.current.data,
                                           new=form.password.data, confirm=form.confirm.data)
        except DomainError as err:
            form.attach(err)
        else:
            _start_session(user)
            flash("Password changed.", "success")
            return redirect(_safe_next(request.args.get("next")))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/password.html", form=form), status


@bp.get("/users")
@role_required("admin")
def users():
    rows = db.session.scalars(sa.select(User).order_by(User.active.desc(), User.email)).all()
    return render_template("auth/users.html", users=rows, form=NewUserForm(), generated=None)


@bp.post("/users")
@role_required("admin")
def create_user():
    form = NewUserForm()
    generated = None
    if form.validate_on_submit():
        try:
            user, generated = service.create_user(audit.Actor.current(), email=form.email.data,
                                                  display_name=form.display_name.data,
                                                  role=form.role.data, password=form.password.data or None)
        except DomainError as err:
            form.attach(err)
        else:
            flash(f"User {user.email} created.", "success")
            if generated is None:
                return redirect(url_for("auth.users"))
    rows = db.session.scalars(sa.select(User).order_by(User.active.desc(), User.email)).all()
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/users.html", users=rows, form=form, generated=generated), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = EditUserForm(obj=user if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            service.update_user(audit.Actor.current(), user_id, display_name=form.display_name.data,
                                role=form.role.data, active=form.active.data, version=version_of(form))
        except Conflict as err:
            return _stale_user(user_id, err)
        except DomainError as err:
            form.attach(err)
        else:
            flash("User updated.", "success")
            return redirect(url_for("auth.users"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/user_edit.html", user=user, form=form, temporary=None), status


def _stale_user(user_id: int, err):
    db.session.rollback()
    user = db.get_or_404(User, user_id)
    form = EditUserForm(obj=user)
    form.form_errors.append(err.message)
    return render_template("auth/user_edit.html", user=user, form=form, temporary=None), 409


@bp.post("/users/<int:user_id>/reset-password")
@role_required("admin")
def reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    temporary = service.reset_password(audit.Actor.current(), user_id)
    return render_template("auth/user_edit.html", user=user, form=EditUserForm(obj=user),
                           temporary=temporary)


SETTING_FIELDS = ("time_zone", "default_country", "warn_days", "critical_days", "forecast_horizon_days",
                  "registration_deadline_days", "resubmit_grace_days", "aging_pool_days",
                  "restore_window_days", "undo_window_hours", "digest_hour")


def _webhook_values(form, ws) -> dict:
    """Blank URL is none; a blank secret keeps the stored one, and turning the webhook on without any
    secret generates one (README settings: "generated by default")."""
    secret = (form.webhook_secret.data or "").strip() or ws.webhook_secret
    if form.webhook_enabled.data and not secret:
        secret = deliveries.new_secret()
    return {"webhook_url": (form.webhook_url.data or "").strip() or None, "webhook_secret": secret,
            "webhook_enabled": form.webhook_enabled.data}


def _settings_page(form, ws, locked: bool, status: int):
    return render_template("auth/settings.html", form=form, currency_locked=locked, stored_currency=ws.currency,
                           smtp_on=mailer.configured(), recent_deliveries=deliveries.recent(),
                           webhook_ready=bool(ws.webhook_url and ws.webhook_secret),
                           stored_webhook_url=ws.webhook_url), status


@bp.post("/settings/test-email")
@role_required("admin")
def send_test_email():
    email = current_user.email
    try:
        delivery = deliveries.send_test_email(current_user.id)
    except DomainError as err:
        flash(err.message, "error")
    else:
        _flash_test(delivery, f"Test email sent to {email}.", "The test email was not sent")
    return redirect(url_for("auth.settings"), 303)


@bp.post("/settings/test-webhook")
@role_required("admin")
def send_test_webhook():
    try:
        delivery = deliveries.send_test_webhook()
    except DomainError as err:
        flash(err.message, "error")
    else:
        _flash_test(delivery, f"Test webhook delivered (HTTP {delivery.response_code}).",
                    "The test webhook failed")
    return redirect(url_for("auth.settings"), 303)


def _flash_test(delivery, success: str, failure: str) -> None:
    if delivery.status == "sent":
        flash(success, "success")
    else:
        flash(f"{failure}: {delivery.last_error}", "error")


bp.add_url_rule("/setup", view_func=Setup.as_view("setup"))
bp.add_url_rule("/settings", view_func=Settings.as_view("settings"))


def _settings_form(ws, locked: bool, stored: bool) -> SettingsForm:
    """The Settings form: filled from the stored row (`stored`), else from the posted fields."""
    data = {k: getattr(ws, k) for k in SETTING_FIELDS}
    data.update(workspace_name=ws.name, currency=ws.currency,
                reminder_offsets=", ".join(str(o) for o in ws.reminder_offsets or []), version=ws.version,
                webhook_url=ws.webhook_url or "", webhook_secret=ws.webhook_secret or "",
                webhook_enabled=ws.webhook_enabled)
    form = SettingsForm(formdata=None, data=data) if stored else SettingsForm()
    form.fit_to(ws, locked)
    return form
