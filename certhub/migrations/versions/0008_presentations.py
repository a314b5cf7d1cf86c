"""presentations (亮证), redemptions and holder delegations

Revision ID: 0008
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "registry_delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_code", sa.String(length=18), nullable=False),
        sa.Column("principal_code_type", sa.String(length=3), nullable=False),
        sa.Column("proxy_code", sa.String(length=18), nullable=False),
        sa.Column("proxy_code_type", sa.String(length=3), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("type_codes", _json(), nullable=False),
        sa.Column("actions", _json(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_delegations")),
    )
    op.create_index(op.f("ix_registry_delegations_principal_code"), "registry_delegations", ["principal_code"],
                    unique=False)
    op.create_index("ix_registry_delegations_proxy_principal", "registry_delegations",
                    ["proxy_code", "principal_code"], unique=False)
    op.create_table(
        "registry_presentations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("holder_code", sa.String(length=18), nullable=False),
        sa.Column("holder_code_type", sa.String(length=3), nullable=False),
        sa.Column("proxy_code", sa.String(length=18), nullable=True),
        sa.Column("delegation_id", sa.Integer(), nullable=True),
        sa.Column("licence_identifiers", _json(), nullable=False),
        sa.Column("disclosure", sa.String(length=8), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["delegation_id"], ["registry_delegations.id"],
                                name=op.f("fk_registry_presentations_delegation_id_registry_delegations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_presentations")),
    )
    op.create_index(op.f("ix_registry_presentations_holder_code"), "registry_presentations", ["holder_code"],
                    unique=False)
    op.create_table(
        "registry_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("presentation_id", sa.String(length=32), nullable=False),
        sa.Column("department_code", sa.String(length=18), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["presentation_id"], ["registry_presentations.id"],
                                name=op.f("fk_registry_redemptions_presentation_id_registry_presentations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_redemptions")),
        # The database's guarantee that a code is redeemed once, whatever the cache says.
        sa.UniqueConstraint("presentation_id", name=op.f("uq_registry_redemptions_presentation_id")),
    )
    op.create_index(op.f("ix_registry_redemptions_department_code"), "registry_redemptions", ["department_code"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_redemptions_department_code"), table_name="registry_redemptions")
    op.drop_table("registry_redemptions")
    op.drop_index(op.f("ix_registry_presentations_holder_code"), table_name="registry_presentations")
    op.drop_table("registry_presentations")
    op.drop_index("ix_registry_delegations_proxy_principal", table_name="registry_delegations")
    op.drop_index(op.f("ix_registry_delegations_principal_code"), table_name="registry_delegations")
    op.drop_table("registry_delegations")
