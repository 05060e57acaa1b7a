"""A covering index for the quick-filter count of cancelled numbers whose restore window ends soon.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 11:10:00
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_number_status_cancelled_at", "number", ["status", "cancelled_at"])


def downgrade():
    op.drop_index("ix_number_status_cancelled_at", table_name="number")
