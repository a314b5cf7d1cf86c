"""A log monitor's state and one round of checks: follow a log from the
last checkpoint it verified.

Each round runs the log verifier (``verify_log``) with the saved checkpoint
as ``since``: the new checkpoint's signature (and whatever else the
verifier enforces, such as a witness policy), every tile, the entries when
readable, the time-stamp when TSA roots are given, and consistency with the
saved checkpoint. Consistency is checked between each checkpoint and the
next one seen, so it holds between every pair the monitor has seen. Only a
round that passes moves the state on, so a break keeps being reported
against the last good checkpoint until someone looks.

The state is a small JSON file, written atomically (a temporary file in the
same directory, fsynced, renamed over the old one), so a crash mid-write
leaves the old state, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from signing.transparency.cosignature import WitnessPolicy
from signing.transparency.errors import LogVerificationError, MalformedError
from signing.transparency.note import MAX_NOTE_BYTES, NoteVerifier
from signing.transparency.sources import LogSource
from signing.transparency.verifier import VerificationReport, verify_log

STATE_VERSION = 1
MAX_STATE_BYTES = 4 * MAX_NOTE_BYTES


@dataclass(frozen=True)
class MonitorState:
    """The last checkpoint verified (its signed note), and the newest time-stamp's genTime seen."""

    checkpoint: bytes | None = None
    timestamp_gen_time: datetime | None = None
    checked_at: datetime | None = None

    def to_json(self) -> bytes:
        return json.dumps({
            "version": STATE_VERSION,
            "checkpoint": self.checkpoint.decode() if self.checkpoint is not None else None,
            "timestamp_gen_time": self.timestamp_gen_time.isoformat() if self.timestamp_gen_time else None,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }, indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> MonitorState:
        if len(data) > MAX_STATE_BYTES:
            raise MalformedError("the monitor state file is too large")
        try:
            body = json.loads(data)
            if not isinstance(body, dict) or body.get("version") != STATE_VERSION:
                raise ValueError(f"not a version {STATE_VERSION} monitor state")
            note, gen_time, checked = body.get("checkpoint"), body.get("timestamp_gen_time"), body.get("checked_at")
            return cls(checkpoint=note.encode() if isinstance(note, str) else None,
                       timestamp_gen_time=datetime.fromisoformat(gen_time) if gen_time else None,
                       checked_at=datetime.fromisoformat(checked) if checked else None)
        except (ValueError, TypeError, AttributeError) as error:
            raise MalformedError(f"the monitor state file is malformed: {error}") from error


def load_state(path: Path) -> MonitorState:
    """The saved state; an empty one when the file does not exist yet (the first round trusts on first use)."""
    try:
        with open(path, "rb") as stream:
            return MonitorState.from_json(stream.read(MAX_STATE_BYTES + 1))
    except FileNotFoundError:
        return MonitorState()


def save_state(path: Path, state: MonitorState) -> None:
    """Replace the state file atomically: the old state or the new, never a torn one."""
    directory = path.resolve().parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(state.to_json())
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename itself must reach the disk too.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def check_round(
    *,
    source: LogSource,
    verifier_key: Sequence[str | NoteVerifier],
    state: MonitorState,
    check_entries: bool,
    tsa_roots: Sequence[x509.Certificate] | None = None,
    timestamp_max_age: timedelta | None = None,
    witness_policy: WitnessPolicy | None = None,
    now: datetime | None = None,
) -> tuple[MonitorState, VerificationReport]:
    """One round: the new state and the verifier's report, or LogVerificationError (the state stays)."""
    moment = now or datetime.now(UTC)
    report = verify_log(source=source, verifier_key=verifier_key, since=state.checkpoint, check_entries=check_entries,
                        tsa_roots=tsa_roots, timestamp_max_age=timestamp_max_age, witness_policy=witness_policy,
                        now=moment)
    gen_time = report.timestamp.gen_time if report.timestamp is not None else None
    # A log's newest time-stamp only moves forward: an older one served now is a rewound log.
    if gen_time is not None and state.timestamp_gen_time is not None and gen_time < state.timestamp_gen_time:
        raise LogVerificationError(
            f"the log's newest time-stamp went back from {state.timestamp_gen_time.isoformat()} to "
            f"{gen_time.isoformat()}", code="timestamp_regressed", path="timestamp")
    return MonitorState(checkpoint=report.note, timestamp_gen_time=gen_time or state.timestamp_gen_time,
                        checked_at=moment), report
