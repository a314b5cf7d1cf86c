"""RFC 3161 time-stamps of the use log's checkpoints, from an outside
time-stamping authority, kept beside the checkpoint they time-stamp
(exchange/auditlog/timestamps.py). Additive: a new table; checkpoints
published before it simply have no time-stamp.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "auditlog_checkpoint_timestamps",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("checkpoint_id", big_id, nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["auditlog_checkpoints.id"],
                                name=op.f("fk_auditlog_checkpoint_timestamps_checkpoint_id_auditlog_checkpoints")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auditlog_checkpoint_timestamps")),
        sa.UniqueConstraint("checkpoint_id", name=op.f("uq_auditlog_checkpoint_timestamps_checkpoint_id")),
    )


def downgrade() -> None:
    op.drop_table("auditlog_checkpoint_timestamps")
