"""CSV import on the web (lifecycle.md §3)."""
from flask import Blueprint

bp = Blueprint("imports", __name__)
