"""The Overview page (/overview): counts, readiness blockers, attention items, the expiry timeline."""
