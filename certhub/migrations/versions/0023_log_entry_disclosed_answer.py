"""A use record's row keeps what the use disclosed and the salts of its commitments.

The signed entry commits to each disclosed item by a salted digest (its
``answer``); the values and the salts are kept beside the entry, for the
holder the data is about, never in it, so the public log and the auditors'
entry bundles hold no disclosed value. Rows written before have none.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain, nullable ADD COLUMN on both databases: older rows committed to no answer.
    op.add_column("auditlog_entries", sa.Column("disclosed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE auditlog_entries DROP COLUMN disclosed")
