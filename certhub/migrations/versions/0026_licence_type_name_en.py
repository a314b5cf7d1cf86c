"""A licence type's English name, shown by wallets beside the Chinese one
(the SD-JWT VC type metadata, docs/sd-jwt-vc.md). Nullable: types defined
before it have none, and their metadata shows the Chinese name in both.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("catalog_licence_types", sa.Column("name_en", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_licence_types") as batch:
        batch.drop_column("name_en")
