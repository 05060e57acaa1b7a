"""Reminder and delivery jobs. Reminders, email digests and webhooks arrive with a later issue;
until then these jobs do nothing (lifecycle events already write in-app notification rows)."""


def claim_due_reminders() -> int:
    return 0


def send_due_deliveries() -> int:
    return 0
