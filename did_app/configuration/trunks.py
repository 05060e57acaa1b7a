"""Voice trunks and trunk groups (configuration.md §1–§3, §7)."""
from flask import Blueprint

bp = Blueprint("trunks", __name__, url_prefix="/trunks")
