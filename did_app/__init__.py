"""did-app: the My Numbers workspace. `create_app()` builds the Flask app; it starts no threads."""
import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, g, make_response, redirect, request, session, url_for
from flask_login import current_user

from did_app import clock, config, filters
from did_app.errors import register_error_handlers
from did_app.extensions import csrf, db, login_manager, migrate
from did_app.htmx import add_vary
from did_app.http_request import AppRequest, IdConverter
from did_app.security import add_cache_headers, add_security_headers, can
from did_app.workspace import current_workspace

# endpoints reachable without a session (first run and login themselves, health, static)
PUBLIC_ENDPOINTS = {"static", "health.healthz", "health.favicon", "auth.login", "auth.setup",
                    "calendar.feed"}
# while "must change password" is set, the only endpoints besides the public ones (access.md §4);
# the calendar feed is public (its own token), so it passes too
PASSWORD_CHANGE_ENDPOINTS = {"auth.password", "auth.logout"}
# the top navigation; an entry shows once its page exists
NAV_LINKS = (("overview.index", "Overview"), ("registration.identities_list", "Registration"), ("configuration.trunks.index", "Trunks"), ("configuration.sms.index", "SMS trunks"),
             ("configuration.capacity.index", "Capacity"), ("configuration.profiles.index", "Profiles & rules"),
             ("billing.index", "Billing"), ("intake.orders", "Orders"), ("batches.index", "Batches"),
             ("activity.index", "Activity"))


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    app.request_class = AppRequest
    app.url_map.converters["int"] = IdConverter  # before any route is added
    config.load(app, test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.extensions["clock"] = app.config.get("CLOCK") or clock.SystemClock()

    db.init_app(app)
    # render_as_batch: SQLite alters a table by copy and move; the scripts live beside the package
    migrate.init_app(app, db, render_as_batch=True, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    _init_login(app)
    if app.config["PROXY_FIX"]:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    register_error_handlers(app)
    filters.register(app)
    # block tags leave no blank lines or indentation behind: the table page is 50 rows × 15 cells
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals.update(
        oob=False, can=can, workspace=current_workspace, nav_links=NAV_LINKS,
        has_endpoint=lambda endpoint: endpoint in app.view_functions)
    _register_blueprints(app)
    _register_hooks(app)

    # the CLI modules import areas: loaded when an app is built, not with the package, which every
    # did_app module imports first
    from did_app import cli, ops_cli
    from did_app.imports import cli as import_cli
    cli.register(app)
    ops_cli.register(app)
    import_cli.register(app)
    return app


def _register_blueprints(app: Flask) -> None:
    # the views (and the numbers area's template globals) import every area: loaded when an app is
    # built, not with the package, which every did_app module imports first
    from did_app.activity.views import bp as activity_bp
    from did_app.auth.views import bp as auth_bp
    from did_app.batches.views import bp as batches_bp
    from did_app.billing.views import bp as billing_bp
    from did_app.calendar.views import bp as calendar_bp
    from did_app.configuration.views import bp as configuration_bp
    from did_app.health import bp as health_bp
    from did_app.imports.views import bp as imports_bp
    from did_app.intake.views import bp as intake_bp
    from did_app.notifications.views import bp as notifications_bp
    from did_app.numbers import template_globals
    from did_app.numbers.views import bp as numbers_bp
    from did_app.overview.views import bp as overview_bp
    from did_app.registration.views import bp as registration_bp

    for bp in (auth_bp, health_bp, numbers_bp, configuration_bp, activity_bp,
               billing_bp, intake_bp, imports_bp, registration_bp, batches_bp, notifications_bp,
               calendar_bp, overview_bp):
        app.register_blueprint(bp)
    template_globals.install(app)


def _init_login(app: Flask) -> None:
    # an area's service: loaded when an app is built, not with the package (see _register_blueprints)
    from did_app.auth import service as auth_service

    login_manager.init_app(app)
    login_manager.session_protection = None  # rotation is done at login; ids carry the session version
    login_manager.user_loader(auth_service.load_session_user)
    login_manager.unauthorized_handler(_unauthorized)


def _unauthorized():
    return _send_page_to("auth.login")


def _send_page_to(endpoint: str):
    """The whole page goes to `endpoint`, with ?next= the page to come back to: htmx gets 401 with
    HX-Redirect (never a form squeezed into a table cell), other requests a 302."""
    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", "")).path or url_for("numbers.index")
        resp = make_response("", 401)
        resp.headers["HX-Redirect"] = url_for(endpoint, next=current)
        return resp
    # the browser's path, sub-path (SCRIPT_NAME) included, so that login brings it back there
    path = request.script_root + (request.full_path.rstrip("?") if request.query_string else request.path)
    return redirect(url_for(endpoint, next=path))


def _register_hooks(app: Flask) -> None:
    # the scheduler imports every area's jobs: loaded when an app is built, not with the package
    from did_app import scheduler
    from did_app.auth import service as auth_service
    scheduler.install(app)  # the jobs start on the first served request when SCHEDULER=on

    @app.before_request
    def _gatekeeper():
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:  # the loader accepts only a live session (one query)
            if not auth_service.any_user_exists():
                return redirect(url_for("auth.setup"))
            return _unauthorized()
        if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            return _send_page_to("auth.password")
        g.workspace = current_workspace()
        return None

    @app.after_request
    def _headers(response):
        add_vary(response)
        add_security_headers(response, hsts=app.config["SESSION_COOKIE_SECURE"])
        add_cache_headers(response)
        return response

    @app.before_request
    def _permanent_session():
        session.permanent = True  # 12 h without a request ends it (PERMANENT_SESSION_LIFETIME)

    @app.teardown_appcontext
    def _drop_session(exc):
        g.pop("workspace", None)

    app.permanent_session_lifetime = app.config.get("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
