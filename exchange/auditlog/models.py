"""Tables of the authorized-use log.

``auditlog_entries`` holds one row per use; ``entry`` is the exact leaf
bytes (RFC 8785 canonical JSON) and the other columns are copies for
searching. ``leaf_index`` stays NULL until the integrator sequences the row.

On PostgreSQL ``auditlog_entries`` is range-partitioned by ``leaf_index``
(migration 0027): pending rows wait in the DEFAULT partition, and ``id`` is
an identity column no INSERT may set, in place of the primary key a
partitioned table cannot have on it (docs/partitioning.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from storage.base import Base, UTCDateTime, utcnow

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class LogEntry(Base):
    __tablename__ = "auditlog_entries"
    __table_args__ = (
        Index("ix_auditlog_entries_pending", "leaf_index", "id"),
        Index("ix_auditlog_entries_dept_time", "department_code", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str] = mapped_column(String(18))
    operator_id: Mapped[str] = mapped_column(String(64), index=True)
    subject_code: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    matter_code: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    basis: Mapped[str] = mapped_column(String(80), index=True)
    result: Mapped[str] = mapped_column(String(8))
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    # The HTTP request that made the record (X-Request-Id): for following it
    # through the servers' logs; not part of the signed entry.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # What the use disclosed and the salts of the entry's answer digests
    # (exchange.auditlog.answers): compact JSON {"salts": [...], "values": [...]},
    # for the holder the data is about. Not part of the signed entry, which
    # holds only the digests, so it can be erased when its retention ends
    # without touching the log. Loaded only when asked for (deferred): the
    # auditor's search and export never read it.
    disclosed: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))


class LogTile(Base):
    """One row per (level, index); overwritten as the tile fills up."""

    __tablename__ = "auditlog_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LogState(Base):
    """The single row every append locks: the integrated size and root."""

    __tablename__ = "auditlog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # Bumped by every integrator run: the write that takes the lock on both
    # backends (an UPDATE blocks on PostgreSQL and takes SQLite's write lock).
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LogCheckpoint(Base):
    __tablename__ = "auditlog_checkpoints"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[bytes] = mapped_column(LargeBinary)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # The root of the per-subject map the note's extension line commits to
    # (exchange.auditlog.subjects); NULL on checkpoints published before it.
    subject_map_root: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class SubjectHead(Base):
    """One leaf of the per-subject map: a subject's keyed tag, how many
    checkpointed entries name that subject, and the newest one's index.
    Derived from the entries at each checkpoint (exchange.auditlog.subjects)."""

    __tablename__ = "auditlog_subject_heads"

    tag: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    last_index: Mapped[int] = mapped_column(BigInteger)


class LogCheckpointTimestamp(Base):
    """An outside TSA's RFC 3161 TimeStampResp over one checkpoint's note text
    (exchange/auditlog/timestamps.py); at most one per checkpoint."""

    __tablename__ = "auditlog_checkpoint_timestamps"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    checkpoint_id: Mapped[int] = mapped_column(_BigId, ForeignKey("auditlog_checkpoints.id"), unique=True)
    # The whole TimeStampResp, as rfc3161-client and `openssl ts -verify` read it.
    response: Mapped[bytes] = mapped_column(LargeBinary)
    # The token's genTime, copied out for the fail-closed rule and /log/health.
    gen_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LogSigningKey(Base):
    """A checkpoint signing key: the Ed25519 seed AES-GCM encrypted, or a
    reference to the key in the deployment's PKCS#11 token (signing.hsm).

    One active key per log (``retired_at`` NULL); rotated-out keys stay, as
    the published key history checkpoints they signed are verified with."""

    __tablename__ = "auditlog_signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), index=True)
    kid: Mapped[str] = mapped_column(String(100))
    verifier_key: Mapped[str] = mapped_column(String(512))
    encrypted_seed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The token object's CKA_ID (hex) when the key was generated in a token; then no seed.
    token_object: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LogCosignature(Base):
    """A witness's cosignature line on one checkpoint (C2SP tlog-cosignature).

    The line is also appended to the checkpoint's ``note``, which is what is
    served; these rows say which witness cosigned which size, so the next
    request to that witness starts from the size it last cosigned."""

    __tablename__ = "auditlog_cosignatures"
    __table_args__ = (Index("ix_auditlog_cosignatures_witness", "witness", "checkpoint_id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    checkpoint_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("auditlog_checkpoints.id"))
    witness: Mapped[str] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(String(1024))
    cosigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
