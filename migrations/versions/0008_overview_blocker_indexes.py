"""Indexes for the readiness blockers (numbers.md §6, the `blocker` filter of interfaces.md) that
the Overview page counts on every view (B12): covering indexes, so each count reads a range of one
index instead of every row of the table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:00:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_number_status_sms_route_features", "number", ["status", "sms_route_id", "features"])
    op.create_index("ix_number_status_voice_readiness", "number",
                    ["status", "features", "voice_route_id", "capacity_mode", "channels_included",
                     "dedicated_channels", "capacity_group_id"])
    op.create_index("ix_number_status_registration", "number",
                    ["status", "needs_registration", "expired_at", "cancelled_at"])


def downgrade():
    op.drop_index("ix_number_status_registration", table_name="number")
    op.drop_index("ix_number_status_voice_readiness", table_name="number")
    op.drop_index("ix_number_status_sms_route_features", table_name="number")
