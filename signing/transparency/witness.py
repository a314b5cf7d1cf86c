"""The C2SP tlog-witness protocol: add-checkpoint requests and answers, the
witness's checks, and the log's side of a submission.

# SPEC: C2SP tlog-witness "add-checkpoint" — the request body is ``old
# <size>``, zero to 63 base64 consistency proof lines, an empty line, then
# the checkpoint note. 200 answers with cosignature lines; 409 with the
# witness's size (text/x.tlog.size) or on a same-size fork; 403 when no
# trusted log key signed; 404 for an unknown origin; 422 when the
# consistency proof does not verify; 400 for an old size past the new one.
The witness's state lives behind ``WitnessLedger`` (``witness_store`` keeps
it in SQLite), so the check of the old size and the write of the new
checkpoint happen in one transaction, as the spec requires.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from signing.transparency.checkpoint import Checkpoint
from signing.transparency.cosignature import Cosigner, CosignerVerifier
from signing.transparency.errors import (
    MalformedError,
    NoteVerificationError,
    ProofVerificationError,
    TransparencyLogError,
)
from signing.transparency.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from signing.transparency.note import MAX_NOTE_BYTES, Note, NoteSignature, NoteVerifier, open_note

ADD_CHECKPOINT_PATH = "add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
# SPEC: C2SP tlog-witness — a client MUST NOT send more than 63 proof lines.
MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = MAX_NOTE_BYTES + 32 + MAX_PROOF_LINES * 46
MAX_RESPONSE_BYTES = 1 << 14
_DECIMAL = re.compile(rb"0|[1-9][0-9]{0,18}")


class WitnessRefusal(TransparencyLogError):
    """The witness does not cosign; ``code`` says why and maps to the spec's status.

    ``stored_size`` is the witness's latest cosigned size on a size conflict.
    """

    code = "witness_refused"

    def __init__(self, message: str, *, code: str, stored_size: int | None = None) -> None:
        super().__init__(message, code=code)
        self.stored_size = stored_size


# SPEC: C2SP tlog-witness "add-checkpoint" — the HTTP status for each refusal.
REFUSAL_STATUS: Mapping[str, int] = {
    "malformed_request": 400,
    "old_size_too_large": 400,
    "bad_signature": 403,
    "unknown_log": 404,
    "size_conflict": 409,
    "fork": 409,
    "inconsistent": 422,
}


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    old_size: int
    proof: tuple[bytes, ...]
    checkpoint_note: bytes

    def to_bytes(self) -> bytes:
        lines = [f"old {self.old_size}\n".encode()]
        lines += [base64.b64encode(node) + b"\n" for node in self.proof]
        return b"".join(lines) + b"\n" + self.checkpoint_note

    @classmethod
    def from_bytes(cls, data: bytes) -> AddCheckpointRequest:
        if not isinstance(data, bytes) or len(data) > MAX_REQUEST_BYTES:
            raise MalformedError(f"an add-checkpoint body is at most {MAX_REQUEST_BYTES} bytes")
        head, separator, note = data.partition(b"\n\n")
        if not separator:
            raise MalformedError("an add-checkpoint body needs an empty line before the checkpoint")
        first, *proof_lines = head.split(b"\n")
        if not first.startswith(b"old ") or not _DECIMAL.fullmatch(first[4:]):
            raise MalformedError("the first line is 'old <size>' in decimal without leading zeroes")
        if len(proof_lines) > MAX_PROOF_LINES:
            raise MalformedError(f"at most {MAX_PROOF_LINES} consistency proof lines")
        return cls(
            old_size=int(first[4:]), proof=tuple(_decode_hash(line) for line in proof_lines), checkpoint_note=note
        )


def format_cosignatures(lines: Sequence[NoteSignature]) -> bytes:
    """A 200 answer's body: one note signature line each."""
    return "".join(line.to_line() for line in lines).encode()


def parse_cosignatures(body: bytes) -> tuple[NoteSignature, ...]:
    """The signature lines of a 200 answer (not verified: see ``WitnessPolicy``)."""
    if len(body) > MAX_RESPONSE_BYTES or not body.endswith(b"\n"):
        raise MalformedError("a cosignature answer is newline-terminated signature lines")
    # The lines parse exactly as they would at the end of a note.
    return Note.from_bytes(b"x\n\n" + body).signatures


def parse_size(body: bytes) -> int:
    """The witness's size in a 409 answer (text/x.tlog.size)."""
    if not body.endswith(b"\n") or not _DECIMAL.fullmatch(body[:-1]):
        raise MalformedError("a size answer is a decimal number and a newline")
    return int(body[:-1])


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """What a witness keeps per log: its latest cosigned checkpoint."""

    origin: str
    size: int
    root_hash: bytes
    note: bytes


class WitnessLedger(Protocol):
    """The witness's state inside one transaction."""

    def latest(self, origin: str) -> WitnessedCheckpoint | None: ...

    def record(self, checkpoint: WitnessedCheckpoint) -> None: ...


class WitnessStore(Protocol):
    def transaction(self) -> AbstractContextManager[WitnessLedger]:
        """Exclusive: no other add-checkpoint reads or writes until it ends."""
        ...

    def keep_evidence(self, *, kind: str, origin: str, stored: bytes, submitted: bytes, request: bytes) -> None:
        """Keep a refused submission that may prove a log misbehaved."""
        ...


class Witness:
    """Checks submitted checkpoints against its state and cosigns consistent ones.

    ``logs`` maps each accepted origin to the log keys trusted for it.
    """

    def __init__(
        self,
        *,
        cosigner: Cosigner,
        logs: Mapping[str, Sequence[NoteVerifier]],
        store: WitnessStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self._logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self._store = store
        self._clock = clock

    def add_checkpoint(self, body: bytes) -> bytes:
        """The 200 answer's body, or WitnessRefusal."""
        # 1. Parse the request and the checkpoint.
        try:
            request = AddCheckpointRequest.from_bytes(body)
            checkpoint = Checkpoint.from_text(Note.from_bytes(request.checkpoint_note).text)
        except MalformedError as error:
            raise WitnessRefusal(f"malformed request: {error}", code="malformed_request") from None
        # 2. The origin must be one this witness follows.
        keys = self._logs.get(checkpoint.origin)
        if keys is None:
            raise WitnessRefusal(f"unknown log origin {checkpoint.origin!r}", code="unknown_log")
        # 3. A trusted log key must have signed it; unknown keys are ignored.
        try:
            open_note(request.checkpoint_note, verifiers=keys)
        except (NoteVerificationError, MalformedError) as error:
            raise WitnessRefusal(f"checkpoint signature: {error}", code="bad_signature") from None
        if request.old_size > checkpoint.size:
            raise WitnessRefusal("old size is larger than the checkpoint size", code="old_size_too_large")
        with self._store.transaction() as ledger:
            self._check_against(ledger.latest(checkpoint.origin), request, checkpoint, body)
            ledger.record(
                WitnessedCheckpoint(
                    origin=checkpoint.origin,
                    size=checkpoint.size,
                    root_hash=checkpoint.root_hash,
                    note=request.checkpoint_note,
                )
            )
        cosignature = self.cosigner.cosign(checkpoint_text=checkpoint.to_text(), timestamp=int(self._clock()))
        return format_cosignatures([cosignature])

    def _check_against(
        self, stored: WitnessedCheckpoint | None, request: AddCheckpointRequest, checkpoint: Checkpoint, body: bytes
    ) -> None:
        stored_size = 0 if stored is None else stored.size
        # 4. The old size must be the latest size this witness cosigned.
        if request.old_size != stored_size:
            raise WitnessRefusal(
                f"old size {request.old_size} is not the witnessed size {stored_size}",
                code="size_conflict",
                stored_size=stored_size,
            )
        stored_root = EMPTY_ROOT if stored is None else stored.root_hash
        # 5. Same size: same root, or the log showed two trees (a fork).
        if stored is not None and checkpoint.size == stored.size and checkpoint.root_hash != stored.root_hash:
            self._store.keep_evidence(
                kind="fork",
                origin=checkpoint.origin,
                stored=stored.note,
                submitted=request.checkpoint_note,
                request=body,
            )
            raise WitnessRefusal("same size, different root: the log forked", code="fork", stored_size=stored_size)
        # 6. Otherwise the consistency proof must link the stored root to the new one.
        try:
            verify_consistency(
                old_size=request.old_size,
                new_size=checkpoint.size,
                old_root=stored_root,
                new_root=checkpoint.root_hash,
                proof=request.proof,
            )
        except ProofVerificationError as error:
            if stored is not None:
                self._store.keep_evidence(
                    kind="inconsistent",
                    origin=checkpoint.origin,
                    stored=stored.note,
                    submitted=request.checkpoint_note,
                    request=body,
                )
            raise WitnessRefusal(f"consistency proof: {error}", code="inconsistent") from None


# The log's side.


class HttpPost(Protocol):
    """POST ``body`` to ``url``: the status, the Content-Type and at most
    ``limit`` + 1 bytes of the body. Raises OSError (or a subclass of the
    caller's choosing) when no answer comes."""

    def __call__(self, url: str, *, body: bytes, limit: int) -> tuple[int, str, bytes]: ...


@dataclass(frozen=True, slots=True)
class WitnessAnswer:
    """One witness's answer: its valid cosignatures, or the size it holds, or a refusal."""

    cosignatures: tuple[NoteSignature, ...] = ()
    conflict_size: int | None = None
    refused: str | None = None


def submit_checkpoint(
    post: HttpPost, *, url: str, request: AddCheckpointRequest, witness: CosignerVerifier
) -> WitnessAnswer:
    """Send one add-checkpoint request; keep only cosignatures by ``witness`` that verify.

    # SPEC: C2SP tlog-witness — the client MUST ignore cosignatures from unknown keys.
    """
    status, content_type, body = post(
        url.rstrip("/") + "/" + ADD_CHECKPOINT_PATH, body=request.to_bytes(), limit=MAX_RESPONSE_BYTES
    )
    if len(body) > MAX_RESPONSE_BYTES:
        return WitnessAnswer(refused="answer_too_large")
    if status == 409 and content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE:
        try:
            return WitnessAnswer(conflict_size=parse_size(body))
        except MalformedError:
            return WitnessAnswer(refused="malformed_answer")
    if status != 200:
        return WitnessAnswer(refused=f"http_{status}")
    try:
        lines = parse_cosignatures(body)
    except MalformedError:
        return WitnessAnswer(refused="malformed_answer")
    text = Note.from_bytes(request.checkpoint_note).text
    valid = tuple(
        line
        for line in lines
        if (line.name, line.key_id) == (witness.name, witness.key_id)
        and witness.verified_timestamp(checkpoint_text=text, signature=line.signature) is not None
    )
    return WitnessAnswer(cosignatures=valid) if valid else WitnessAnswer(refused="no_valid_cosignature")


def _decode_hash(line: bytes) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except ValueError as error:
        raise MalformedError("a consistency proof line is base64") from error
    if len(raw) != HASH_SIZE or base64.b64encode(raw) != line:
        raise MalformedError("a consistency proof line is the canonical base64 of 32 bytes")
    return raw
