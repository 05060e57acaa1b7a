"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Read this script before committing it: autogenerate misses server defaults, CHECK changes (enum
values included) and data moves. A NOT NULL column added to a table holding data needs a
server_default (or add it nullable, backfill, then tighten), and so does a downgrade that re-adds
one. Never import app code here: copy the data a migration needs.
"""
import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
