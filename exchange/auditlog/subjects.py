"""The per-subject map each checkpoint commits to: provably complete lists.

A holder's 用证记录 used to be a query over ``auditlog_entries.subject_code``,
a column no proof covered. Now every checkpoint carries an extension line

    certhub-subject-map <leaves> <base64 root>

committing to a sorted Merkle map (``signing.transparency.sortedmap``) from
each subject's tag to ``(count, last index)``: how many entries of the
checkpointed tree name that subject, and the index of the newest. The tag
is HMAC-SHA256 under a key derived from the deployment secret, so the map's
leaves (which proofs show to holders) say nothing about who.

Why a count and not a back-chain in each entry: an entry's bytes are fixed
in the caller's transaction, before the integrator gives it an index
(``integration``), so an entry cannot name its predecessor's index without
serialising every data request on the log lock. The count and the head give
the holder the same check: the map proof says "c entries, the last at h",
the holder is given c entries naming them, each with its inclusion proof.

The map is kept in ``auditlog_subject_heads`` and brought up to each new
checkpoint's size from the entries themselves (never from the searchable
columns), under the append lock, by ``advance``. Whoever holds the entries
and the tag key can recompute it (the database verifier,
``exchange.auditlog.dbcheck``, does).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.auditlog.errors import LogCorrupted
from exchange.auditlog.models import LogCheckpoint, LogEntry, SubjectHead
from exchange.auditlog.records import parse_entry
from signing.transparency.sortedmap import SortedMap

EXTENSION_PREFIX = "certhub-subject-map"
TAG_BYTES = 32
# count (uint64) || last index (uint64), big-endian.
_VALUE = struct.Struct(">QQ")
_HKDF_INFO = b"certhub auditlog subject tags v1"
# Entries read per query while the map catches up with a new checkpoint.
_ADVANCE_CHUNK = 5_000
# Tags per IN list: under SQLite's oldest bound-parameter limit (999).
_TAGS_PER_QUERY = 500


def tag_key(key_secret: bytes) -> bytes:
    """The HMAC key of subject tags, derived from the deployment secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(key_secret)


def subject_tag(*, key: bytes, subject_code: str) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(subject_code.encode("utf-8"))
    return mac.finalize()


@dataclass(frozen=True)
class SubjectHeadValue:
    count: int
    last_index: int

    def encode(self) -> bytes:
        return _VALUE.pack(self.count, self.last_index)

    @classmethod
    def decode(cls, data: bytes) -> SubjectHeadValue:
        if len(data) != _VALUE.size:
            raise ValueError("a map value is 16 bytes")
        count, last_index = _VALUE.unpack(data)
        return cls(count=count, last_index=last_index)


def extension_line(*, leaves: int, root: bytes) -> str:
    return f"{EXTENSION_PREFIX} {leaves} {base64.b64encode(root).decode('ascii')}"


def parse_extension(extensions: Iterable[str]) -> tuple[int, bytes] | None:
    """``(leaves, root)`` of the checkpoint's map line, or None without one."""
    for line in extensions:
        parts = line.split(" ")
        if parts[0] != EXTENSION_PREFIX:
            continue
        if len(parts) != 3 or not parts[1].isdigit():
            raise LogCorrupted("malformed subject map line in the checkpoint")
        root = base64.b64decode(parts[2], validate=True)
        if len(root) != 32:
            raise LogCorrupted("malformed subject map root in the checkpoint")
        return int(parts[1]), root
    return None


def map_size(*, session: Session) -> int:
    """The tree size the stored map covers: that of the newest checkpoint
    that committed to a map (0 before the first)."""
    size = session.scalar(
        select(LogCheckpoint.size).where(LogCheckpoint.subject_map_root.is_not(None))
        .order_by(LogCheckpoint.id.desc()).limit(1)
    )
    return 0 if size is None else size


def advance(*, session: Session, key: bytes, new_size: int) -> SortedMap:
    """Bring the stored map from its size to ``new_size`` from the entries;
    the whole map. Called by ``publish_checkpoint`` under the append lock."""
    start = map_size(session=session)
    if new_size < start:
        raise LogCorrupted(f"the log is smaller ({new_size}) than its subject map ({start})")
    # Only the heads of subjects the new entries name are read and written.
    heads: dict[bytes, SubjectHead] = {}
    for begin in range(start, new_size, _ADVANCE_CHUNK):
        end = min(begin + _ADVANCE_CHUNK, new_size)
        rows = session.execute(
            select(LogEntry.leaf_index, LogEntry.entry)
            .where(LogEntry.leaf_index >= begin, LogEntry.leaf_index < end).order_by(LogEntry.leaf_index)
        ).all()
        if len(rows) != end - begin:
            raise LogCorrupted(f"entries {begin}..{end - 1} are not all in the database")
        named: list[tuple[int, bytes]] = []
        for index, (leaf_index, entry) in enumerate(rows, start=begin):
            if leaf_index != index:
                raise LogCorrupted(f"entry {index} is not in the database")
            subject = parse_entry(bytes(entry)).get("subject")
            if subject is not None:
                named.append((index, subject_tag(key=key, subject_code=subject)))
        _load_heads(session=session, heads=heads, tags={tag for _, tag in named})
        for index, tag in named:
            head = heads.get(tag)
            if head is None:
                head = heads[tag] = SubjectHead(tag=tag, count=0, last_index=index)
                session.add(head)
            head.count += 1
            head.last_index = index
    session.flush()
    return load_map(session=session)


def _load_heads(*, session: Session, heads: dict[bytes, SubjectHead], tags: set[bytes]) -> None:
    """Add to ``heads`` the stored rows of ``tags`` not in it yet."""
    wanted = sorted(tags - heads.keys())
    for start in range(0, len(wanted), _TAGS_PER_QUERY):
        # populate_existing: a head this session read before is read again, not trusted from memory.
        query = (select(SubjectHead).where(SubjectHead.tag.in_(wanted[start:start + _TAGS_PER_QUERY]))
                 .execution_options(populate_existing=True))
        for row in session.scalars(query):
            heads[bytes(row.tag)] = row


def load_map(*, session: Session) -> SortedMap:
    items = [(bytes(tag), SubjectHeadValue(count, last).encode())
             for tag, count, last in session.execute(select(SubjectHead.tag, SubjectHead.count, SubjectHead.last_index))]
    return SortedMap(items, key_length=TAG_BYTES, value_length=_VALUE.size)


def map_from_heads(heads: dict[bytes, tuple[int, int]]) -> SortedMap:
    """The map of ``tag -> (count, last index)``, e.g. as a verifier counted it from the entries."""
    items = [(tag, SubjectHeadValue(count, last).encode()) for tag, (count, last) in heads.items()]
    return SortedMap(items, key_length=TAG_BYTES, value_length=_VALUE.size)
