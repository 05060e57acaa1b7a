"""Lifecycle jobs (lifecycle.md §11): argument-free, each calls one service of lifecycle/renewals.py,
so a job can never bypass a rule. The scheduler runs them in an app context."""
from did_app.lifecycle import renewals


def renew_due_numbers() -> int:
    """Renew or expire every due number and capacity pool; returns the rows touched."""
    return renewals.renew_due_numbers()


def release_aged_numbers() -> int:
    """Release expired numbers past the aging pool."""
    return renewals.release_aged_numbers()


def release_unrestored() -> int:
    """Release cancelled numbers past the restore window."""
    return renewals.release_unrestored()
