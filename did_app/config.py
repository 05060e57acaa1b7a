"""Configuration: defaults, then instance/config.py, then the environment (interfaces.md)."""
import os
import secrets
from datetime import timedelta
from pathlib import Path

DEFAULTS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "WTF_CSRF_TIME_LIMIT": None,  # the workspace stays open for hours and <body> is never re-rendered
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "SESSION_MAX_AGE": timedelta(days=14),
    "SCHEDULER": "off",
    "BASE_URL": "http://127.0.0.1:5000",
    "PROXY_FIX": False,
    "SMTP_HOST": None, "SMTP_PORT": 25, "SMTP_USER": None, "SMTP_PASSWORD": None,
    "SMTP_FROM": "did-app@localhost", "SMTP_STARTTLS": False,
    "MAX_CONTENT_LENGTH": 30 * 1024 * 1024,
}

ENV_KEYS = ("DATABASE_URL", "SECRET_KEY", "SCHEDULER", "SMTP_HOST", "SMTP_PORT", "SMTP_USER",
            "SMTP_PASSWORD", "SMTP_FROM", "SMTP_STARTTLS", "BASE_URL", "PROXY_FIX")


def _secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


SQLITE_CACHED_STATEMENTS = 16


def load(app, test_config: dict | None) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.update(DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'did.sqlite3'}"
    if test_config is not None:
        app.config.update(test_config)
    else:
        app.config.from_pyfile("config.py", silent=True)
        for key in ENV_KEYS:
            if os.environ.get(key) not in (None, ""):
                app.config[key] = os.environ[key]
    if app.config.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    for key in ("SMTP_STARTTLS", "PROXY_FIX"):
        app.config[key] = str(app.config[key]).lower() in ("1", "true", "yes", "on")
    app.config["SMTP_PORT"] = int(app.config["SMTP_PORT"])
    app.config["SCHEDULER"] = str(app.config["SCHEDULER"]).lower()
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        # each connection keeps its prepared statements (Python's default is 128); a page runs
        # fewer than 16 distinct ones, and the rest only cost memory: about 2 MB per connection,
        # up to 4 connections per worker (B10)
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": {
            "cached_statements": SQLITE_CACHED_STATEMENTS, **options.get("connect_args", {})}}
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    https = str(app.config["BASE_URL"]).startswith("https://")
    app.config["SESSION_COOKIE_SECURE"] = https
    app.config["REMEMBER_COOKIE_SECURE"] = https
