"""The reminders job (lifecycle.md §11): argument-free, it calls the claims service."""
from did_app.reminders import claims


def claim_due_reminders() -> int:
    """Claim the due reminders of every kind, grouped into notifications; the claims made."""
    return claims.claim_due_reminders()
