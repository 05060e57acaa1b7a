"""Lifecycle jobs (lifecycle.md §11). Each takes no arguments, reads clock.now(), returns rows touched."""


def renew_due_numbers() -> int:
    return 0


def release_aged_numbers() -> int:
    return 0


def release_unrestored() -> int:
    return 0
