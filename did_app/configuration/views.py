"""The configuration area: one child blueprint per page family, under /configuration."""
from flask import Blueprint

from did_app.configuration.capacity import bp as capacity_bp
from did_app.configuration.profiles import bp as profiles_bp
from did_app.configuration.routes import sms_bp, trunks_bp

bp = Blueprint("configuration", __name__, url_prefix="/configuration")
for child in (trunks_bp, sms_bp, capacity_bp, profiles_bp):
    bp.register_blueprint(child)
