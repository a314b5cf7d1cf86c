"""X.509 certificates for PDF signatures: the registry's document root and one
document-signing certificate per department key (signing/x509docs.py), kept
so every PDF a key signs carries the same certificate.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_document_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("issuer_key_id", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["signing_keys.id"],
                                name=op.f("fk_signing_document_certificates_key_id_signing_keys")),
        sa.ForeignKeyConstraint(["issuer_key_id"], ["signing_keys.id"],
                                name=op.f("fk_signing_document_certificates_issuer_key_id_signing_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_document_certificates")),
        sa.UniqueConstraint("key_id", "issuer_key_id",
                            name=op.f("uq_signing_document_certificates_key_id_issuer_key_id")),
    )
    op.create_index(op.f("ix_signing_document_certificates_key_id"), "signing_document_certificates", ["key_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_signing_document_certificates_key_id"), table_name="signing_document_certificates")
    op.drop_table("signing_document_certificates")
