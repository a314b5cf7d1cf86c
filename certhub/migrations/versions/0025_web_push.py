"""Web Push: holders' push subscriptions, the hub's VAPID key, and the
delivery outbox's channel (webhook or web_push), so each worker takes only
its own rows. The dispatch cursor's position becomes 64-bit: the Web Push
dispatcher reads the use log's entry ids with it.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_web_push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder_code", sa.String(length=32), nullable=False),
        sa.Column("endpoint", sa.String(length=1000), nullable=False),
        sa.Column("p256dh", sa.String(length=100), nullable=False),
        sa.Column("auth", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_web_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_exchange_web_push_subscriptions_endpoint")),
    )
    op.create_index("ix_exchange_web_push_subscriptions_holder", "exchange_web_push_subscriptions", ["holder_code"])
    op.create_table(
        "exchange_web_push_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=100), nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_web_push_keys")),
    )
    with op.batch_alter_table("adapters_webhook_deliveries") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=16), nullable=False, server_default="webhook"))
        batch.create_index("ix_adapters_webhook_deliveries_channel_due", ["channel", "status", "next_attempt_at"])
    with op.batch_alter_table("exchange_dispatch_cursors") as batch:
        batch.alter_column("last_event_id", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("exchange_dispatch_cursors") as batch:
        batch.alter_column("last_event_id", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
    with op.batch_alter_table("adapters_webhook_deliveries") as batch:
        batch.drop_index("ix_adapters_webhook_deliveries_channel_due")
        batch.drop_column("channel")
    op.drop_table("exchange_web_push_keys")
    op.drop_index("ix_exchange_web_push_subscriptions_holder", table_name="exchange_web_push_subscriptions")
    op.drop_table("exchange_web_push_subscriptions")
