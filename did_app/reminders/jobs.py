"""The reminders job (lifecycle.md §11)."""


def claim_due_reminders() -> int:
    return 0
