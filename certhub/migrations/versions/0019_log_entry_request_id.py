"""A use record's row names the HTTP request that made it (X-Request-Id).

The request id follows a record into the servers' JSON log lines and back.
It sits beside the signed entry, not in it: it is no part of what was used,
and the leaves' format (and every proof already handed out) stays as it was.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain, nullable ADD COLUMN on both databases: rows written before it have no request id.
    op.add_column("auditlog_entries", sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE auditlog_entries DROP COLUMN request_id")
