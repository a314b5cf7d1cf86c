"""Inclusion and consistency proofs against published checkpoints, and a
holder's own records each with its inclusion proof.

# SPEC: RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency). Proofs are
# computed from the stored tiles: a few tile reads per level.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.auditlog.checkpoints import latest_checkpoint
from exchange.auditlog.errors import InvalidQuery, NotInLog
from exchange.auditlog.integration import DbTileReader
from exchange.auditlog.models import LogCheckpoint, LogEntry
from exchange.auditlog.records import parse_entry
from signing.transparency import consistency_proof, inclusion_proof, leaf_hash

MAX_SUBJECT_RECORDS = 1000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def checkpoint_size(session: Session) -> int:
    latest = latest_checkpoint(session)
    return 0 if latest is None else latest.size


def _check_size(session: Session, size: int) -> None:
    published = checkpoint_size(session)
    if not 0 < size <= published:
        raise NotInLog(f"size {size} is not covered by the latest checkpoint (size {published})")


def inclusion(*, session: Session, index: int, size: int) -> dict:
    """Proof that leaf ``index`` is in the tree of ``size`` (a checkpointed size)."""
    _check_size(session, size)
    if not 0 <= index < size:
        raise InvalidQuery(f"index must be in 0..{size - 1}")
    path = inclusion_proof(index=index, size=size, reader=DbTileReader(session))
    return {"index": index, "size": size, "proof": [b64(node) for node in path]}


def consistency(*, session: Session, old: int, new: int) -> dict:
    """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
    _check_size(session, new)
    if not 0 < old <= new:
        raise InvalidQuery("old must be in 1..new")
    path = consistency_proof(old_size=old, new_size=new, reader=DbTileReader(session))
    return {"old": old, "new": new, "proof": [b64(node) for node in path]}


@dataclass
class ProvenRecord:
    """A record as stored in the log, with its proof when it is checkpointed."""

    leaf_index: int | None
    record: dict
    leaf_hash: str
    proof: list[str] | None

    def to_json(self) -> dict:
        return {"index": self.leaf_index, "record": self.record, "leaf_hash": self.leaf_hash, "proof": self.proof}


@dataclass
class SubjectRecords:
    checkpoint: str | None
    size: int
    records: list[ProvenRecord] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "size": self.size,
            "records": [record.to_json() for record in self.records],
        }


class _CachingReader:
    """Tiles below a checkpointed size never change: reuse them across proofs."""

    def __init__(self, session: Session) -> None:
        self._reader = DbTileReader(session)
        self._tiles: dict[tuple[int, int, int], bytes | None] = {}

    def read_tile(self, coord):
        key = (coord.level, coord.index, coord.width)
        if key not in self._tiles:
            self._tiles[key] = self._reader.read_tile(coord)
        return self._tiles[key]


def prove_rows(
    session: Session, rows: list[LogEntry], *, checkpoint: LogCheckpoint | None = None
) -> tuple[str | None, int, list[ProvenRecord]]:
    """Attach inclusion proofs against ``checkpoint`` (default: the latest).

    Entries not yet in a checkpoint carry ``proof: None``: they become
    provable after the next integration and checkpoint.
    """
    latest = checkpoint or latest_checkpoint(session)
    size = 0 if latest is None else latest.size
    reader = _CachingReader(session)
    proven = []
    for row in rows:
        entry = bytes(row.entry)
        proof = None
        if row.leaf_index is not None and row.leaf_index < size:
            proof = [b64(node) for node in inclusion_proof(index=row.leaf_index, size=size, reader=reader)]
        proven.append(ProvenRecord(row.leaf_index, parse_entry(entry), b64(leaf_hash(entry)), proof))
    note = None if latest is None else bytes(latest.note).decode("utf-8")
    return note, size, proven


def records_for_subject(*, session: Session, subject_code: str, limit: int = MAX_SUBJECT_RECORDS) -> SubjectRecords:
    """Every use of a holder's data (newest first), each with its inclusion proof.

    The holder checks each proof against the signed checkpoint returned
    alongside: a record shown to them cannot later vanish from the log.
    """
    if not subject_code or len(subject_code) > 32:
        raise InvalidQuery("subject_code must be 1..32 characters")
    limit = max(1, min(limit, MAX_SUBJECT_RECORDS))
    rows = list(
        session.scalars(
            select(LogEntry).where(LogEntry.subject_code == subject_code).order_by(LogEntry.id.desc()).limit(limit)
        )
    )
    note, size, proven = prove_rows(session, rows)
    return SubjectRecords(checkpoint=note, size=size, records=proven)
