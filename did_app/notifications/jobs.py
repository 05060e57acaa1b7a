"""The deliveries job (lifecycle.md §11): digests and webhook attempts that are due."""
from did_app.notifications import deliveries


def send_due_deliveries() -> int:
    return deliveries.send_due()
