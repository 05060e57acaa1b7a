"""Flask extensions, created unbound and initialised in create_app()."""
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from did_app.db import db

csrf = CSRFProtect()
login_manager = LoginManager()
migrate = Migrate()

__all__ = ["db", "csrf", "login_manager", "migrate"]
