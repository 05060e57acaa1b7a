"""An index for the "Registered" verification filter of My Numbers (registration.md §5 display
states): numbers that need registration and no longer await it, counted and paged in expiry order
without reading every row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 13:10:00
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_number_registration_expires_at", "number",
                    ["needs_registration", "awaiting_registration", "expires_at", "number"])


def downgrade():
    op.drop_index("ix_number_registration_expires_at", table_name="number")
