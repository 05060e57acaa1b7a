"""Flask extensions, created unbound and initialised in create_app()."""
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from did_app.db import db

migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()

__all__ = ["db", "migrate", "csrf", "login_manager"]
