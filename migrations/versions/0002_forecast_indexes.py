"""Covering indexes for the renewal forecast and the per-number ledger totals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 22:05:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_number_renewal_forecast", "number",
                    ["expires_at", "id", "monthly_price_minor", "next_capacity_mode", "next_monthly_price_minor",
                     "billing_cycles_count", "billing_anchor_day", "expired_at", "cancelled_at", "porting"])
    op.create_index("ix_ledger_entry_number_totals", "ledger_entry", ["number_id", "kind", "amount_minor", "at", "number"])


def downgrade():
    op.drop_index("ix_ledger_entry_number_totals", table_name="ledger_entry")
    op.drop_index("ix_number_renewal_forecast", table_name="number")
