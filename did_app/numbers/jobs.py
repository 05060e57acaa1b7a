"""Housekeeping (lifecycle.md §11): purge expired rows by predicate."""


def purge_expired_rows() -> int:
    return 0
