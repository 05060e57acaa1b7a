"""billing area."""
