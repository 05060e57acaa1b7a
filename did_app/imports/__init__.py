"""imports area."""
