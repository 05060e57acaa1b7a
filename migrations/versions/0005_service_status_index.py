"""An index on the status of services needing approval: every page an admin opens counts the
pending ones in the navigation (registration.md §5), and the Service requests page lists them first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 12:30:00
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_number_service_status", "number_service", ["status"])


def downgrade():
    op.drop_index("ix_number_service_status", table_name="number_service")
