"""Intake: add single / range / list, port-in requests, orders (lifecycle.md §1, §2, §4, §6)."""
from flask import Blueprint

bp = Blueprint("intake", __name__)
