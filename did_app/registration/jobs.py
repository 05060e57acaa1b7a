"""Registration jobs (lifecycle.md §7, §11)."""
from did_app.lifecycle.jobs import remove_overdue_registrations


def remove_overdue() -> int:
    """Release and refund awaiting numbers past their registration deadline."""
    return remove_overdue_registrations()
