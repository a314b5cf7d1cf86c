"""The wallet's additions: a 亮证 code's short numeric fallback a counter
clerk can type, and attachments to a holder's dispute.

The QR carries about 340 characters of base45; a clerk whose scanner fails
types the presentation's ten-digit short code instead. Codes live seconds and
are looked up only among live presentations, so the column is indexed, not
unique: two live codes sharing one are refused rather than guessed between.

Attachments are the holder's evidence for a dispute, bounded (three files of
at most 900 KiB, JPEG, PNG or PDF) and deleted with their dispute.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: codes made before it have no short code and are only scanned.
    op.add_column("registry_presentations", sa.Column("short_code", sa.String(length=10), nullable=True))
    op.create_index(op.f("ix_registry_presentations_short_code"), "registry_presentations", ["short_code"])
    op.create_table(
        "registry_dispute_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dispute_id"], ["registry_licence_disputes.id"], ondelete="CASCADE",
                                name=op.f("fk_registry_dispute_attachments_dispute_id_registry_licence_disputes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_dispute_attachments")),
    )
    op.create_index(op.f("ix_registry_dispute_attachments_dispute_id"), "registry_dispute_attachments",
                    ["dispute_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_dispute_attachments_dispute_id"), table_name="registry_dispute_attachments")
    op.drop_table("registry_dispute_attachments")
    op.drop_index(op.f("ix_registry_presentations_short_code"), table_name="registry_presentations")
    op.execute("ALTER TABLE registry_presentations DROP COLUMN short_code")
