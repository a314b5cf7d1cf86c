"""The use log's checkpoint key can be rotated: several keys per log, one active.

`auditlog_signing_keys.name` (the log's origin) was unique, so a log had one
key for life. Rotation keeps the old key with `retired_at` set: checkpoints it
signed stay verifiable with the published key history (`/log/verifier-keys`).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot drop a constraint in place: the batch copies the table (it
    # is a handful of rows, and nothing refers to it).
    with op.batch_alter_table("auditlog_signing_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_auditlog_signing_keys_name"), type_="unique")
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_auditlog_signing_keys_name"), ["name"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM auditlog_signing_keys WHERE retired_at IS NOT NULL")
    with op.batch_alter_table("auditlog_signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditlog_signing_keys_name"))
        batch_op.drop_column("retired_at")
        batch_op.create_unique_constraint(op.f("uq_auditlog_signing_keys_name"), ["name"])
