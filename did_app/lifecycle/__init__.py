"""Numbers in and out (lifecycle.md): periods, the ledger, creation, renewal, expiry, release."""
