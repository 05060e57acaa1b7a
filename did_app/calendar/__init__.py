"""The per-user expiry calendar feed (lifecycle.md §13)."""
