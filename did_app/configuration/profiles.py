"""Configuration profiles and rules (configuration.md §8–§9)."""
from flask import Blueprint

bp = Blueprint("profiles", __name__, url_prefix="/profiles")
