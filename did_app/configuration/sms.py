"""SMS trunks and SMS trunk groups (configuration.md §4, §7)."""
from flask import Blueprint

bp = Blueprint("sms", __name__, url_prefix="/sms-trunks")
