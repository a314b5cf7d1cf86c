"""Provably complete per-subject lists, and embargoed supervision uses.

* ``auditlog_subject_heads``: the per-subject map each checkpoint commits
  to (subject tag → count and newest index), derived from the entries.
* ``auditlog_checkpoints.subject_map_root``: the map root a checkpoint's
  extension line names; NULL on earlier checkpoints, so the first
  checkpoint after the upgrade builds the map from entry 0.
* ``exchange_mandates.embargo_until``: until when the holder's view hides
  the uses made under a covert supervision mandate.

All additive.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auditlog_subject_heads",
        sa.Column("tag", sa.LargeBinary(length=32), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_index", sa.BigInteger(), nullable=False),
    )
    op.add_column("auditlog_checkpoints", sa.Column("subject_map_root", sa.LargeBinary(), nullable=True))
    op.add_column("exchange_mandates", sa.Column("embargo_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE exchange_mandates DROP COLUMN embargo_until")
    op.execute("ALTER TABLE auditlog_checkpoints DROP COLUMN subject_map_root")
    op.drop_table("auditlog_subject_heads")
