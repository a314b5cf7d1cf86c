"""A presentation's redemption is recorded once: in registry_redemptions.

registry_presentations.redeemed_at repeated the time its redemption row
already holds, and cost every redemption one more UPDATE. The redemption
row (unique per presentation) is the record; the copy goes.

Revision ID: 0013
Revises: 0012
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER on SQLite too (3.35 and later drop a column in place): a
    # batch copy of the table would have to drop the original, which the
    # redemptions' foreign key forbids once codes have been redeemed.
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        raise RuntimeError(f"SQLite 3.35 or later is needed (this Python has {sqlite3.sqlite_version})")
    op.execute("ALTER TABLE registry_presentations DROP COLUMN redeemed_at")


def downgrade() -> None:
    op.add_column("registry_presentations", sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True))
    # Filled again from the rows it copied.
    op.execute(
        "UPDATE registry_presentations SET redeemed_at = (SELECT r.redeemed_at FROM registry_redemptions r"
        " WHERE r.presentation_id = registry_presentations.id)"
    )
