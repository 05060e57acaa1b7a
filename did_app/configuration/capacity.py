"""Capacity pools and shared capacity groups (configuration.md §5, §7)."""
from flask import Blueprint

bp = Blueprint("capacity", __name__, url_prefix="/capacity")
