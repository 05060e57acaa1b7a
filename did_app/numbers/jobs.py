"""Housekeeping job (lifecycle.md §11), daily at 03:00 UTC: argument-free, calling the service."""
from did_app.numbers import housekeeping


def purge_expired_rows() -> int:
    """Delete expired saved lists, previews, old login attempts, sessions and read notifications."""
    return housekeeping.purge_expired_rows()
