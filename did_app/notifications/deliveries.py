"""Outside deliveries (lifecycle.md §12): the email digest and the webhook, at least once, each
under a stable id."""


def enqueue_webhook(session, notification) -> None:
    """Queue the webhook delivery of `notification` (flushed, so it has an id), in the caller's
    transaction, when the workspace webhook is enabled."""


def send_due() -> int:
    """Send due digests and webhook attempts; the rows touched."""
    return 0
