"""Status lists: signed by the registry's status-list key from the trust list,
and indices drawn at random.

Each list had a key of its own, which verifiers could only fetch beside the
list, unauthenticated. The registry now signs every list with one key of
purpose `status_list` in signing_keys, published in the trust list. The old
per-list keys move there as retired keys (without their private halves, which
nothing needs any more), so the tokens they signed before stay checkable with
the trust list until each list is next re-signed.

Indices were handed out in order (`next_index`), which tells anyone reading
the lists the order and volume of issue; they are now drawn at random, so a
list keeps a bitmap of its taken indices (`allocation`) and their count
(`allocated`, the old `next_index`: indices 0 .. next_index - 1 were taken).

Revision ID: 0014
Revises: 0013
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_lists = sa.table(
    "registry_status_lists",
    sa.column("id", sa.Integer), sa.column("size", sa.Integer), sa.column("next_index", sa.Integer),
    sa.column("allocated", sa.Integer), sa.column("allocation", sa.LargeBinary), sa.column("kid", sa.String),
    sa.column("public_key", sa.LargeBinary), sa.column("created_at", sa.DateTime(timezone=True)),
)
_keys = sa.table(
    "signing_keys",
    sa.column("kid", sa.String), sa.column("algorithm", sa.String), sa.column("purpose", sa.String),
    sa.column("public_key", sa.LargeBinary), sa.column("encrypted_private_key", sa.LargeBinary),
    sa.column("status", sa.String), sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("retired_at", sa.DateTime(timezone=True)),
)


def _first_taken(size: int, taken: int) -> bytes:
    """The bitmap of indices 0 .. taken - 1 (bit i of byte i // 8, least significant first)."""
    full, rest = divmod(taken, 8)
    bitmap = bytearray((size + 7) // 8)
    bitmap[:full] = b"\xff" * full
    if rest:
        bitmap[full] = (1 << rest) - 1
    return bytes(bitmap)


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    rows = bind.execute(sa.select(_lists.c.id, _lists.c.size, _lists.c.next_index, _lists.c.kid,
                                  _lists.c.public_key, _lists.c.created_at)).all()
    if rows:
        bind.execute(_keys.insert(), [
            {"kid": row.kid, "algorithm": "ES256", "purpose": "status_list", "public_key": row.public_key,
             "encrypted_private_key": None, "status": "retired", "created_at": row.created_at, "retired_at": now}
            for row in rows
        ])
    # Plain ALTERs on SQLite too (3.35 and later rename and drop in place): a batch
    # copy would drop the table the licences' foreign key points at.
    op.add_column("registry_status_lists", sa.Column("allocation", sa.LargeBinary(), nullable=True))
    for row in rows:
        bind.execute(_lists.update().where(_lists.c.id == row.id)
                     .values(allocation=_first_taken(row.size, row.next_index)))
    op.execute("ALTER TABLE registry_status_lists RENAME COLUMN next_index TO allocated")
    op.execute("ALTER TABLE registry_status_lists DROP COLUMN private_key_envelope")
    if bind.dialect.name == "postgresql":
        op.alter_column("registry_status_lists", "allocation", nullable=False)


def _after_last_taken(bitmap: bytes) -> int:
    for byte_index in range(len(bitmap) - 1, -1, -1):
        if bitmap[byte_index]:
            return byte_index * 8 + bitmap[byte_index].bit_length()
    return 0


def downgrade() -> None:
    # Sequential allocation resumes after the highest index taken. The per-list
    # private keys are gone: the old code cannot re-sign these lists, and the
    # status-list keys leave signing_keys, whose old code knows no such purpose.
    bind = op.get_bind()
    lists = sa.table("registry_status_lists", sa.column("id", sa.Integer), sa.column("allocated", sa.Integer),
                     sa.column("allocation", sa.LargeBinary))
    for row in bind.execute(sa.select(lists.c.id, lists.c.allocation)).all():
        bind.execute(lists.update().where(lists.c.id == row.id)
                     .values(allocated=_after_last_taken(row.allocation or b"")))
    op.execute("ALTER TABLE registry_status_lists RENAME COLUMN allocated TO next_index")
    op.execute("ALTER TABLE registry_status_lists DROP COLUMN allocation")
    op.add_column("registry_status_lists", sa.Column("private_key_envelope", sa.LargeBinary(), nullable=True))
    op.execute("DELETE FROM signing_keys WHERE purpose = 'status_list'")
