"""The database verifier: the searchable columns and the per-subject map
checked against the signed entries (``certhub audit verify --database``).

``certhub audit verify --url/--dir`` checks the published log: checkpoint,
tiles, entries. But the lists holders and auditors read are queries over
``auditlog_entries``' columns (``subject_code``, ``department_code``, ...),
which no proof covers: change one and a use drops out of a list while the
published log still verifies. This check closes that gap, from the database
itself:

1. the latest checkpoint verifies with the log's verifier key(s) given by
   the caller (never the keys the database holds);
2. the entries ``0 .. size-1`` are all there, contiguous, and their leaf
   hashes give the checkpoint's root (so the entry bytes below are the log's);
3. every row's searchable columns equal the fields of its own entry
   (``column_mismatch``, naming the leaf index and the column) — pending
   rows too;
4. the per-subject map recomputed from the entries (tags under the
   deployment's key) has the root the checkpoint's extension line commits
   to, and so has the stored map (``auditlog_subject_heads``) holders'
   proofs are made from.

The first problem found is raised as ``DatabaseMismatch``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.auditlog import subjects
from exchange.auditlog.checkpoints import latest_checkpoint
from exchange.auditlog.models import LogEntry
from exchange.auditlog.records import parse_entry
from signing.transparency import Checkpoint, NoteVerifier, leaf_hash, root_from_leaf_hashes
from signing.transparency.errors import VerificationError
from signing.transparency.merkle import EMPTY_ROOT

_CHUNK = 5_000


class DatabaseMismatch(Exception):
    def __init__(self, code: str, message: str, *, index: int | None = None, row_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.index = index
        self.row_id = row_id


@dataclass(frozen=True)
class DatabaseReport:
    size: int
    rows: int  # rows whose columns were checked, pending ones included
    subjects: int  # leaves of the per-subject map


def _recorded(entry: dict) -> datetime:
    return datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# column -> how to read the same value from the entry.
_COLUMNS: tuple[tuple[str, Callable[[dict], object]], ...] = (
    ("kind", lambda entry: entry["kind"]),
    ("department_code", lambda entry: entry["department"]),
    ("operator_id", lambda entry: entry["operator"]),
    ("subject_code", lambda entry: entry["subject"]),
    ("matter_code", lambda entry: entry["matter"]),
    ("basis", lambda entry: entry["basis"]),
    ("result", lambda entry: entry["result"]),
    ("reason_code", lambda entry: entry["reason"]),
    ("recorded_at", _recorded),
)


def verify_database(*, session: Session, verifiers: Sequence[NoteVerifier], key_secret: bytes) -> DatabaseReport:
    """Check the database's log against its latest checkpoint (see above)."""
    latest = latest_checkpoint(session=session)
    if latest is None:
        raise DatabaseMismatch("missing_checkpoint", "no checkpoint has been published")
    try:
        checkpoint = Checkpoint.from_note(bytes(latest.note), verifiers=verifiers)
    except VerificationError as error:
        raise DatabaseMismatch("bad_signature", f"the latest checkpoint does not verify: {error}") from None
    tag_key = subjects.tag_key(key_secret)
    hashes: list[bytes] = []
    heads: dict[bytes, tuple[int, int]] = {}
    rows_checked = 0
    query = (select(LogEntry).order_by(LogEntry.leaf_index.is_(None), LogEntry.leaf_index, LogEntry.id)
             .execution_options(yield_per=_CHUNK))
    # A server-side cursor on PostgreSQL: closed even when a mismatch stops the scan.
    with session.scalars(query) as rows:
        for row in rows:
            entry = _parse(row)
            _check_columns(row, entry)
            rows_checked += 1
            if row.leaf_index is None or row.leaf_index >= checkpoint.size:
                continue
            if row.leaf_index != len(hashes):
                raise DatabaseMismatch("entry_missing", f"leaf {len(hashes)} is not in the database", index=len(hashes))
            hashes.append(leaf_hash(bytes(row.entry)))
            if entry["subject"] is not None:
                tag = subjects.subject_tag(key=tag_key, subject_code=entry["subject"])
                count, _ = heads.get(tag, (0, 0))
                heads[tag] = (count + 1, row.leaf_index)
    if len(hashes) != checkpoint.size:
        raise DatabaseMismatch("entry_missing", f"leaf {len(hashes)} is not in the database", index=len(hashes))
    if (root_from_leaf_hashes(hashes) if hashes else EMPTY_ROOT) != checkpoint.root_hash:
        raise DatabaseMismatch("root_mismatch", "the entries do not hash to the checkpoint's root")
    committed = subjects.parse_extension(checkpoint.extensions)
    if committed is None:
        raise DatabaseMismatch("no_subject_map", "the latest checkpoint commits to no per-subject map")
    recomputed = subjects.map_from_heads(heads)
    if (recomputed.size, recomputed.root()) != committed:
        raise DatabaseMismatch("subject_map_mismatch",
                               "the per-subject map the checkpoint commits to is not the one the entries give")
    if subjects.load_map(session=session).root() != committed[1]:
        raise DatabaseMismatch("subject_heads_mismatch",
                               "the stored per-subject map (auditlog_subject_heads) is not the checkpoint's")
    return DatabaseReport(size=checkpoint.size, rows=rows_checked, subjects=recomputed.size)


def _parse(row: LogEntry) -> dict:
    try:
        return parse_entry(bytes(row.entry))
    except (UnicodeDecodeError, ValueError):
        raise DatabaseMismatch("entry_malformed", "an entry is not the log's JSON",
                               index=row.leaf_index, row_id=row.id) from None


def _check_columns(row: LogEntry, entry: dict) -> None:
    for column, read in _COLUMNS:
        try:
            expected = read(entry)
        except (KeyError, ValueError, TypeError):
            raise DatabaseMismatch("entry_malformed", f"an entry lacks what column {column} copies",
                                   index=row.leaf_index, row_id=row.id) from None
        if getattr(row, column) != expected:
            raise DatabaseMismatch("column_mismatch", f"column {column} differs from the signed entry",
                                   index=row.leaf_index, row_id=row.id)
