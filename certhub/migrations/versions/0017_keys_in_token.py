"""Signing keys kept in a PKCS#11 token: the rows name the token object instead of holding an envelope.

`signing_keys.token_object` and `auditlog_signing_keys.token_object` carry
the CKA_ID (hex) of a private key generated inside the deployment's token
(signing.hsm); such a row has no envelope, so the log key's
`encrypted_seed` becomes nullable. Rows with envelopes are unchanged.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: signing_keys is referenced by no
    # foreign key, but a batch copy would rebuild its unique constraint for nothing.
    op.add_column("signing_keys", sa.Column("token_object", sa.String(length=64), nullable=True))
    # SQLite cannot ALTER a column's nullability: batch mode copies the table there.
    with op.batch_alter_table("auditlog_signing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_object", sa.String(length=64), nullable=True))
        batch_op.alter_column("encrypted_seed", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # Refused while a key lives in a token: its row would lose the only pointer to it.
    bind = op.get_bind()
    in_token = bind.execute(sa.text(
        "SELECT (SELECT COUNT(*) FROM signing_keys WHERE token_object IS NOT NULL)"
        " + (SELECT COUNT(*) FROM auditlog_signing_keys WHERE token_object IS NOT NULL)"
    )).scalar()
    if in_token:
        raise RuntimeError("keys live in a PKCS#11 token; downgrading would orphan them")
    with op.batch_alter_table("auditlog_signing_keys", schema=None) as batch_op:
        batch_op.alter_column("encrypted_seed", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("token_object")
    op.execute("ALTER TABLE signing_keys DROP COLUMN token_object")
