"""The workspace-wide Activity page: every audit row, filterable, with CSV (access.md §6)."""
from flask import Blueprint

bp = Blueprint("activity", __name__, url_prefix="/activity")
