"""`flask import-numbers FILE [--dry-run]` (interfaces.md)."""


def register(app) -> None:
    pass
