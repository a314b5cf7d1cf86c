"""exchange: sharing agreements, holder consents, supervision mandates

Revision ID: 0010
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "exchange_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consumer_code", sa.String(length=18), nullable=False),
        sa.Column("provider_code", sa.String(length=18), nullable=False),
        sa.Column("item_kind", sa.String(length=20), nullable=False),
        sa.Column("item_code", sa.String(length=40), nullable=False),
        sa.Column("matters", _json(), nullable=False),
        sa.Column("fields", _json(), nullable=False),
        sa.Column("clear_fields", _json(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested", _json(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.Text(), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("applied_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_agreements")),
    )
    with op.batch_alter_table("exchange_agreements", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_agreements_lookup", ["consumer_code", "item_code", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_agreements_provider_code"), ["provider_code"], unique=False)

    op.create_table(
        "exchange_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("holder_code", sa.String(length=18), nullable=False),
        sa.Column("holder_code_type", sa.String(length=3), nullable=False),
        sa.Column("department_code", sa.String(length=18), nullable=False),
        sa.Column("matter_code", sa.String(length=40), nullable=False),
        sa.Column("items", _json(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proxy_code", sa.String(length=18), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=18), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_consents")),
        sa.UniqueConstraint("public_id", name=op.f("uq_exchange_consents_public_id")),
    )
    with op.batch_alter_table("exchange_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_consents_lookup", ["holder_code", "department_code", "matter_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_exchange_consents_proxy_code"), ["proxy_code"], unique=False)

    op.create_table(
        "exchange_mandates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_code", sa.String(length=18), nullable=False),
        sa.Column("matters", _json(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_mandates")),
    )
    with op.batch_alter_table("exchange_mandates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_mandates_department_code"), ["department_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exchange_mandates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_mandates_department_code"))
    op.drop_table("exchange_mandates")
    with op.batch_alter_table("exchange_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_consents_proxy_code"))
        batch_op.drop_index("ix_exchange_consents_lookup")
    op.drop_table("exchange_consents")
    with op.batch_alter_table("exchange_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_agreements_provider_code"))
        batch_op.drop_index("ix_exchange_agreements_lookup")
    op.drop_table("exchange_agreements")
