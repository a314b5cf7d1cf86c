"""Witness cosignatures on the log's checkpoints (C2SP tlog-cosignature).

One row per witness and checkpoint it cosigned: the signature line as the
witness sent it, and the size it cosigned, from which the next request to
that witness starts (C2SP tlog-witness "old size"). Additive: a new table.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "auditlog_cosignatures",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("checkpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(length=256), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.String(length=1024), nullable=False),
        sa.Column("cosigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["auditlog_checkpoints.id"],
                                name=op.f("fk_auditlog_cosignatures_checkpoint_id_auditlog_checkpoints")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auditlog_cosignatures")),
    )
    op.create_index("ix_auditlog_cosignatures_witness", "auditlog_cosignatures", ["witness", "checkpoint_id"])


def downgrade() -> None:
    op.drop_index("ix_auditlog_cosignatures_witness", table_name="auditlog_cosignatures")
    op.drop_table("auditlog_cosignatures")
