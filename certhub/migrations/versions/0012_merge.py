"""Join this round's schema branches (disputes, presentations, imports,
exchange, client keys and subscriptions) into one head.

Revision ID: 0012
Revises: 0007, 0008, 0009, 0010, 0011
"""

revision = "0012"
down_revision = ("0007", "0008", "0009", "0010", "0011")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
