"""Inclusion and consistency proofs against published checkpoints, and a
holder's own records each with its inclusion proof.

# SPEC: RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency). Proofs are
# computed from the stored tiles: a few tile reads per level.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, undefer

from exchange.auditlog import subjects
from exchange.auditlog.checkpoints import latest_checkpoint
from exchange.auditlog.errors import InvalidQuery, NotInLog
from exchange.auditlog.integration import DbTileReader
from exchange.auditlog.models import LogCheckpoint, LogEntry
from exchange.auditlog.records import embargo_end, parse_entry
from signing.transparency import (
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    tiles_for_consistency_proof,
    tiles_for_inclusion_proof,
)

MAX_SUBJECT_RECORDS = 1000
# Reads of (checkpoint, map) until both are of one publication.
_MAP_READ_ATTEMPTS = 3


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def checkpoint_size(*, session: Session) -> int:
    size = session.scalar(select(LogCheckpoint.size).order_by(LogCheckpoint.id.desc()).limit(1))
    return 0 if size is None else size


def _check_size(*, session: Session, size: int) -> None:
    published = checkpoint_size(session=session)
    if not 0 < size <= published:
        raise NotInLog(f"size {size} is not covered by the latest checkpoint (size {published})")


def inclusion(*, session: Session, index: int, size: int) -> dict:
    """Proof that leaf ``index`` is in the tree of ``size`` (a checkpointed size)."""
    _check_size(session=session, size=size)
    if not 0 <= index < size:
        raise InvalidQuery(f"index must be in 0..{size - 1}")
    # One query for the 4-6 tiles the proof reads, instead of one each.
    tiles = DbTileReader(session=session).prefetch(tiles_for_inclusion_proof(index=index, size=size))
    path = inclusion_proof(index=index, size=size, reader=tiles)
    return {"index": index, "size": size, "proof": [b64(node) for node in path]}


def consistency(*, session: Session, old: int, new: int) -> dict:
    """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new``."""
    _check_size(session=session, size=new)
    if not 0 < old <= new:
        raise InvalidQuery("old must be in 1..new")
    tiles = DbTileReader(session=session).prefetch(tiles_for_consistency_proof(old_size=old, new_size=new))
    path = consistency_proof(old_size=old, new_size=new, reader=tiles)
    return {"old": old, "new": new, "proof": [b64(node) for node in path]}


@dataclass
class ProvenRecord:
    """A record as stored in the log, with its proof when it is checkpointed."""

    leaf_index: int | None
    record: dict
    leaf_hash: str
    proof: list[str] | None
    # For the holder's own view only: the values and salts the record's
    # "answer" digests commit to ({"values": [...], "salts": [...]}).
    disclosed: dict | None = None

    def to_json(self) -> dict:
        shown = {"index": self.leaf_index, "record": self.record, "leaf_hash": self.leaf_hash, "proof": self.proof}
        if self.disclosed is not None:
            shown["disclosed"] = self.disclosed
        return shown


@dataclass
class EmbargoedRecord:
    """A checkpointed use the subject may not read yet (a covert supervision
    mandate's embargo): its place in the log and its proof, not its contents."""

    leaf_index: int
    leaf_hash: str
    proof: list[str]

    def to_json(self) -> dict:
        return {"index": self.leaf_index, "leaf_hash": self.leaf_hash, "proof": self.proof}


@dataclass
class SubjectRecords:
    checkpoint: str | None
    size: int
    records: list[ProvenRecord] = field(default_factory=list)
    # The per-subject map's proof for this subject under ``checkpoint``
    # (``subjects``): how many checkpointed entries name it; None when the
    # checkpoint predates the map.
    subject_map: dict | None = None
    embargoed: list[EmbargoedRecord] = field(default_factory=list)
    # More records than one answer holds: the list cannot be shown complete.
    truncated: bool = False

    def to_json(self) -> dict:
        return {
            "checkpoint": self.checkpoint,
            "size": self.size,
            "subject_map": self.subject_map,
            "records": [record.to_json() for record in self.records],
            "embargoed": [record.to_json() for record in self.embargoed],
            "truncated": self.truncated,
        }


def prove_rows(
    *, session: Session, rows: Sequence[LogEntry | Row], checkpoint: LogCheckpoint | None = None
) -> tuple[str | None, int, list[ProvenRecord]]:
    """Attach inclusion proofs against ``checkpoint`` (default: the latest).

    ``rows`` are entries or result rows with ``leaf_index`` and ``entry``.

    Entries not yet in a checkpoint carry ``proof: None``: they become
    provable after the next integration and checkpoint.
    """
    latest = checkpoint or latest_checkpoint(session=session)
    size = 0 if latest is None else latest.size
    provable = [row.leaf_index for row in rows if row.leaf_index is not None and row.leaf_index < size]
    # One tree for the batch: tiles and shared sibling hashes are read and hashed once.
    paths = dict(zip(provable, inclusion_proofs(indices=provable, size=size, reader=DbTileReader(session=session)),
                     strict=True))
    proven = []
    for row in rows:
        entry = bytes(row.entry)
        path = paths.get(row.leaf_index) if row.leaf_index is not None else None
        proof = None if path is None else [b64(node) for node in path]
        proven.append(ProvenRecord(row.leaf_index, parse_entry(entry), b64(leaf_hash(entry)), proof))
    note = None if latest is None else bytes(latest.note).decode("utf-8")
    return note, size, proven


def records_for_subject(*, session: Session, subject_code: str, tag_key: bytes, now: datetime,
                        hide_embargoed: bool, limit: int = MAX_SUBJECT_RECORDS,
                        with_disclosed: bool = False) -> SubjectRecords:
    """Every use of a holder's data (newest first), each with its inclusion
    proof, and the per-subject map's proof of how many there are.

    The holder checks each proof and the map proof against the signed
    checkpoint returned alongside (``completeness.verify_subject_records``):
    a record shown cannot later vanish from the log, and one left out (a
    changed ``subject_code``, a deleted row) makes the count disagree.

    ``hide_embargoed`` (the holder's own view): a use under a covert
    mandate whose embargo has not ended at ``now`` is given as its index,
    leaf hash and proof only — counted, not read. Auditors see it whole.
    ``with_disclosed``: also what each shown use disclosed, with the salts of
    its commitments (the holder's own view only: it is their data).
    """
    if not subject_code or len(subject_code) > 32:
        raise InvalidQuery("subject_code must be 1..32 characters")
    limit = max(1, min(limit, MAX_SUBJECT_RECORDS))
    for _ in range(_MAP_READ_ATTEMPTS):
        # The checkpoint and the stored map must be of one publication; a
        # checkpoint published between the two reads makes the roots differ.
        latest = latest_checkpoint(session=session)
        subject_map = subjects.load_map(session=session)
        stored_root = None if latest is None else latest.subject_map_root
        if stored_root is None or subject_map.root() == stored_root:
            break
    # Proven from the stored map even if it disagreed with the checkpoint
    # every time: the holder's check then fails, which is what it is for.
    map_proof = subject_map.prove(subjects.subject_tag(key=tag_key, subject_code=subject_code))
    query = select(LogEntry).where(LogEntry.subject_code == subject_code).order_by(LogEntry.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query.options(undefer(LogEntry.disclosed)) if with_disclosed else query))
    truncated = len(rows) > limit
    note, size, proven = prove_rows(session=session, rows=rows[:limit], checkpoint=latest)
    shown: list[ProvenRecord] = []
    embargoed: list[EmbargoedRecord] = []
    for row, record in zip(rows, proven, strict=False):
        end = embargo_end(record.record)
        if hide_embargoed and end is not None and now < end:
            if record.proof is not None:  # a pending one is not counted yet: nothing to show
                assert record.leaf_index is not None
                embargoed.append(EmbargoedRecord(record.leaf_index, record.leaf_hash, record.proof))
            continue
        if with_disclosed and row.disclosed is not None:
            record.disclosed = json.loads(bytes(row.disclosed).decode("utf-8"))
        shown.append(record)
    return SubjectRecords(checkpoint=note, size=size, records=shown,
                          subject_map=None if stored_root is None else map_proof.to_json(),
                          embargoed=embargoed, truncated=truncated)
