"""Server-side sessions: one row per sign-in, revoked by logout (access.md §4, §5).

The cookie carries "user id:session version:key"; the row keeps only the key's SHA-256. Sessions
signed in before this migration hold no key, so everyone signs in once more after the upgrade.
login_attempt already has ix_login_attempt_ip_at for the per-IP throttling count.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_session_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_user_session_key_hash'))
    )
    op.create_index(op.f('ix_user_session_user_id'), 'user_session', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_user_session_user_id'), table_name='user_session')
    op.drop_table('user_session')
