"""A 亮证 code's short numeric fallback a counter clerk can type.

The QR carries about 340 characters of base45; a clerk whose scanner fails
types the presentation's ten-digit short code instead. Codes live seconds and
are looked up only among live presentations, so the column is indexed, not
unique: two live codes sharing one are refused rather than guessed between.

Revision ID: 0025
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: codes made before it have no short code and are only scanned.
    op.add_column("registry_presentations", sa.Column("short_code", sa.String(length=10), nullable=True))
    op.create_index(op.f("ix_registry_presentations_short_code"), "registry_presentations", ["short_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_presentations_short_code"), table_name="registry_presentations")
    op.execute("ALTER TABLE registry_presentations DROP COLUMN short_code")
