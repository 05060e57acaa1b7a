"""Registration jobs (lifecycle.md §7, §11): argument-free, calling services only."""
from did_app.lifecycle import renewals


def remove_overdue() -> int:
    """Release and refund awaiting numbers past their registration deadline."""
    return renewals.remove_overdue_registrations()
