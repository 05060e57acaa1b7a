"""intake area."""
