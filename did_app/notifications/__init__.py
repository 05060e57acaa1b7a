"""Reminders and notifications (lifecycle.md §12)."""
