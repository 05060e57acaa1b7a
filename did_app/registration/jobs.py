"""Registration jobs (lifecycle.md §7, §11)."""


def remove_overdue() -> int:
    return 0
