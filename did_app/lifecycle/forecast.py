"""Renewal forecast and the stored "renewal at risk" cutoff (lifecycle.md §10)."""


def recompute_cutoff(session) -> None:
    """Recompute `workspace.renewal_risk_cutoff_at` in the caller's transaction."""
    return None
