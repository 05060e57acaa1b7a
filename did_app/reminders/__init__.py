"""Reminders (lifecycle.md §11–§12): due subjects of every kind claimed exactly once and grouped into
notifications. Above lifecycle and registration, whose rules (the forecast cutoff, the deadlines) it reads."""
