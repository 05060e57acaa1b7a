"""Indexes for the reminders job (lifecycle.md §12): its pending subjects are read as ranges of
their due-date columns (numbers expired or awaiting registration, proofs by expiry).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 16:00:00
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_number_expired_at", "number", ["expired_at"])
    op.create_index("ix_number_registration_deadline_at", "number", ["registration_deadline_at"])
    op.create_index("ix_proof_expires_on", "proof", ["expires_on"])


def downgrade():
    op.drop_index("ix_proof_expires_on", table_name="proof")
    op.drop_index("ix_number_registration_deadline_at", table_name="number")
    op.drop_index("ix_number_expired_at", table_name="number")
