"""Relying parties (a hotel, a bank, a telecom shop) registered to ask holders' wallets for
credentials, and the verifier's OpenID4VP authorization requests (registry/oid4vp).

Revision ID: 0029
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0029"
down_revision = "0027"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "catalog_relying_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("allowed", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["catalog_api_clients.client_id"],
                                name=op.f("fk_catalog_relying_parties_client_id_catalog_api_clients")),
        sa.ForeignKeyConstraint(["department_code"], ["catalog_departments.code"],
                                name=op.f("fk_catalog_relying_parties_department_code_catalog_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_relying_parties")),
        sa.UniqueConstraint("client_id", name=op.f("uq_catalog_relying_parties_client_id")),
    )
    op.create_table(
        "registry_vp_requests",
        sa.Column("id", sa.String(length=43), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=18), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=True),
        sa.Column("dcql_query", _JSON, nullable=False),
        sa.Column("nonce", sa.String(length=43), nullable=False),
        sa.Column("state", sa.String(length=43), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=40), nullable=True),
        sa.Column("result", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_vp_requests")),
        sa.UniqueConstraint("nonce", name=op.f("uq_registry_vp_requests_nonce")),
    )
    op.create_index(op.f("ix_registry_vp_requests_client_id"), "registry_vp_requests", ["client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_vp_requests_client_id"), table_name="registry_vp_requests")
    op.drop_table("registry_vp_requests")
    op.drop_table("catalog_relying_parties")
