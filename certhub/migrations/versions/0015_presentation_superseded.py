"""A presentation names the newer code that replaced it: one live 亮证 code per licence.

A holder's new code for a licence supersedes every earlier code still live
for it; redemption and the public check refuse a superseded code
(`superseded`). Kept in the database, so every app process sees it.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no batch copy: the redemptions'
    # foreign key forbids dropping the table once codes have been redeemed).
    op.add_column("registry_presentations", sa.Column("superseded_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE registry_presentations DROP COLUMN superseded_by")
