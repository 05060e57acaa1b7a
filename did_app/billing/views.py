"""Billing area: balance, ledger, forecast, released numbers (lifecycle.md §6, §8, §10)."""
from flask import Blueprint

bp = Blueprint("billing", __name__)
