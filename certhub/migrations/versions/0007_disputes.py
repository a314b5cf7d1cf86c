"""disputes (异议/纠错) of licence fields and their history

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_licence_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("licence_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issuer_code", sa.String(length=18), nullable=False),
        sa.Column("holder_code", sa.String(length=18), nullable=False),
        sa.Column("holder_code_type", sa.String(length=3), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_value", sa.Text(), nullable=True),
        sa.Column("raised_by", sa.String(length=16), nullable=False),
        sa.Column("raised_by_code", sa.String(length=18), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("operator", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=18), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("corrected_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["registry_licences.id"],
            name=op.f("fk_registry_licence_disputes_licence_id_registry_licences"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_licence_disputes")),
    )
    with op.batch_alter_table("registry_licence_disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_licence_disputes_holder_code"), ["holder_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_registry_licence_disputes_issuer_code"), ["issuer_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_registry_licence_disputes_licence_id"), ["licence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registry_licence_disputes_status"), ["status"], unique=False)

    op.create_table(
        "registry_dispute_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_code", sa.String(length=18), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("operator", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["registry_licence_disputes.id"],
            name=op.f("fk_registry_dispute_events_dispute_id_registry_licence_disputes"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_dispute_events")),
    )
    with op.batch_alter_table("registry_dispute_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_dispute_events_dispute_id"), ["dispute_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registry_dispute_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_dispute_events_dispute_id"))
    op.drop_table("registry_dispute_events")
    with op.batch_alter_table("registry_licence_disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_licence_disputes_status"))
        batch_op.drop_index(batch_op.f("ix_registry_licence_disputes_licence_id"))
        batch_op.drop_index(batch_op.f("ix_registry_licence_disputes_issuer_code"))
        batch_op.drop_index(batch_op.f("ix_registry_licence_disputes_holder_code"))
    op.drop_table("registry_licence_disputes")
