"""A witness's own state in its own directory: its key, an SQLite file with
the latest cosigned checkpoint per log origin, and refused submissions kept
as evidence.

Nothing here touches certhub's database: a witness is another party.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from signing.transparency.cosignature import Cosigner
from signing.transparency.witness import WitnessedCheckpoint

KEY_FILE = "witness.key"
STATE_FILE = "witness.sqlite3"
EVIDENCE_DIR = "evidence"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS latest_checkpoints (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note BLOB NOT NULL,
    updated_at TEXT NOT NULL
)
"""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def load_or_create_cosigner(state_dir: Path, *, name: str) -> Cosigner:
    """The witness key in ``state_dir``, generated (mode 0600) on first start."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / KEY_FILE
    if path.exists():
        cosigner = Cosigner.from_key_string(path.read_text(encoding="ascii"))
        if cosigner.name != name:
            raise ValueError(f"the key in {path} is named {cosigner.name!r}, not {name!r}")
        return cosigner
    cosigner = Cosigner.generate(name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as stream:
        stream.write(cosigner.to_key_string() + "\n")
    return cosigner


class _Ledger:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def latest(self, origin: str) -> WitnessedCheckpoint | None:
        row = self._connection.execute(
            "SELECT size, root_hash, note FROM latest_checkpoints WHERE origin = ?", (origin,)
        ).fetchone()
        if row is None:
            return None
        return WitnessedCheckpoint(origin=origin, size=row[0], root_hash=bytes(row[1]), note=bytes(row[2]))

    def record(self, checkpoint: WitnessedCheckpoint) -> None:
        self._connection.execute(
            "INSERT INTO latest_checkpoints (origin, size, root_hash, note, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root_hash = excluded.root_hash, "
            "note = excluded.note, updated_at = excluded.updated_at",
            (checkpoint.origin, checkpoint.size, checkpoint.root_hash, checkpoint.note, datetime.now(UTC).isoformat()),
        )


class SqliteWitnessStore:
    """State in ``<state_dir>/witness.sqlite3``, evidence under ``<state_dir>/evidence/``."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.evidence_dir = state_dir / EVIDENCE_DIR
        # One connection, one request at a time: BEGIN IMMEDIATE also keeps a
        # second witness process on the same file from interleaving.
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(state_dir / STATE_FILE, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[_Ledger]:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield _Ledger(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def keep_evidence(self, *, kind: str, origin: str, stored: bytes, submitted: bytes, request: bytes) -> None:
        """Both checkpoints and the proof, in a directory of their own (never overwritten)."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        folder = self.evidence_dir / f"{stamp}-{kind}-{_UNSAFE.sub('_', origin)[:80]}"
        folder.mkdir(parents=True, exist_ok=False)
        (folder / "witnessed-checkpoint").write_bytes(stored)
        (folder / "submitted-checkpoint").write_bytes(submitted)
        # The submitted request holds the old size, the proof and the new checkpoint.
        (folder / "add-checkpoint-request").write_bytes(request)

    def close(self) -> None:
        self._connection.close()
