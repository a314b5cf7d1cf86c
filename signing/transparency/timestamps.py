"""RFC 3161 time-stamps of signed checkpoints: the request, the published
resource and the verifier's checks.

A checkpoint's signature says what the log committed to; an outside
time-stamping authority's token says *when* that tree head existed, so an
operator cannot later swap history and claim it was always so. The token's
message imprint is SHA-256 of the checkpoint's note *text* (origin, size,
root and extension lines, C2SP signed-note's "text"), not of the signature
lines: witnesses append cosignature lines to the same checkpoint later, and
the time-stamp must not depend on which of them are present.

The log publishes its newest time-stamped checkpoint beside it, as one JSON
resource (``TIMESTAMP_PATH``): the signed note and the TSA's TimeStampResp,
so a reader never has to pair two resources fetched at different moments.

The ASN.1 and CMS work is rfc3161-client's (Trail of Bits; chain building and
the signature check in Rust): nothing here parses DER by hand.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimeStampRequest,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import LogVerificationError, MalformedError, NoteVerificationError
from signing.transparency.note import MAX_NOTE_BYTES, Note, NoteVerifier
from signing.transparency.sources import TIMESTAMP_PATH

__all__ = ["TIMESTAMP_PATH", "TimestampedCheckpoint", "VerifiedTimestamp", "check_timestamp_reply",
           "checkpoint_imprint", "load_certificates", "timestamp_request", "verify_timestamp"]
# A TimeStampResp with its token and the TSA's certificates is a few kilobytes.
MAX_TIMESTAMP_RESPONSE_BYTES = 64 * 1024
MAX_TIMESTAMP_RESOURCE_BYTES = 2 * (MAX_TIMESTAMP_RESPONSE_BYTES + MAX_NOTE_BYTES)
# How far a TSA's genTime may run ahead of the verifier's clock (two clocks, and the token's accuracy).
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
_SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")


def checkpoint_imprint(note: bytes) -> bytes:
    """SHA-256 of the note's text (without its signature lines): what the TSA time-stamps."""
    return hashlib.sha256(Note.from_bytes(note).text.encode()).digest()


def timestamp_request(note: bytes) -> TimeStampRequest:
    """A TimeStampReq for the checkpoint `note`, with a nonce and the TSA's certificate asked for.

    # SPEC: RFC 3161 §2.4.1 — messageImprint SHA-256, nonce, certReq TRUE.
    """
    text = Note.from_bytes(note).text.encode()
    return TimestampRequestBuilder().data(text).hash_algorithm(HashAlgorithm.SHA256).nonce(nonce=True).build()


def check_timestamp_reply(reply: bytes, *, request: TimeStampRequest) -> TimeStampResponse:
    """The TSA's answer to `request`, granted, for the same imprint and nonce, or MalformedError.

    The log checks what it stores is an answer to its question; whether the
    token chains to a trusted TSA is every verifier's check
    (``verify_timestamp``), with the CA the verifier chose.
    """
    if len(reply) > MAX_TIMESTAMP_RESPONSE_BYTES:
        raise MalformedError("the TSA's answer is larger than a TimeStampResp may be here")
    try:
        response = decode_timestamp_response(reply)
    except ValueError as error:
        raise MalformedError(f"the TSA's answer is not a TimeStampResp: {error}") from error
    # SPEC: RFC 3161 §2.4.2 — only status granted (0) carries a token we keep.
    if PKIStatus(response.status) != PKIStatus.GRANTED:
        raise MalformedError(f"the TSA refused: status {response.status} {' '.join(response.status_string)}".rstrip())
    info = response.tst_info
    if info.message_imprint.message != request.message_imprint.message:
        raise MalformedError("the TSA's token is for another message imprint")
    if request.nonce is not None and info.nonce != request.nonce:
        raise MalformedError("the TSA's token answers another request (nonce)")
    return response


@dataclass(frozen=True)
class TimestampedCheckpoint:
    """The published resource: a signed checkpoint note and the TimeStampResp over its text."""

    note: bytes
    response: bytes

    def to_json(self) -> bytes:
        return json.dumps({
            "checkpoint": self.note.decode(),
            "timestamp_response": base64.b64encode(self.response).decode(),
        }).encode()

    @classmethod
    def from_json(cls, data: bytes) -> TimestampedCheckpoint:
        if len(data) > MAX_TIMESTAMP_RESOURCE_BYTES:
            raise MalformedError("the time-stamp resource is too large")
        try:
            body = json.loads(data)
            note, response = body["checkpoint"], body["timestamp_response"]
            if not isinstance(note, str) or not isinstance(response, str):
                raise TypeError("checkpoint and timestamp_response are strings")
            return cls(note=note.encode(), response=base64.b64decode(response, validate=True))
        except (ValueError, KeyError, TypeError) as error:
            raise MalformedError(f"the time-stamp resource is malformed: {error}") from error


@dataclass(frozen=True)
class VerifiedTimestamp:
    checkpoint: Checkpoint
    gen_time: datetime
    serial_number: int
    tsa_name: str | None


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or more) or one DER certificate."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as error:
        raise MalformedError(f"not an X.509 certificate (PEM or DER): {error}") from error


def verify_timestamp(
    resource: TimestampedCheckpoint,
    *,
    verifiers: Sequence[NoteVerifier],
    tsa_roots: Sequence[x509.Certificate],
    now: datetime | None = None,
    max_age: timedelta | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerifiedTimestamp:
    """Check a published time-stamp; the checkpoint and genTime, or LogVerificationError.

    Whether that checkpoint is in the log's current history is the log
    verifier's check (``verify_log`` proves consistency with it).
    """
    moment = now or datetime.now(UTC)
    # 1. The checkpoint is the log's, signed by a trusted key.
    try:
        checkpoint = Checkpoint.from_note(resource.note, verifiers=verifiers)
    except (NoteVerificationError, MalformedError) as error:
        raise _error(f"the time-stamped checkpoint does not verify: {error}", "timestamp_checkpoint_invalid") from error
    try:
        response = decode_timestamp_response(resource.response)
    except ValueError as error:
        raise _error(f"not a TimeStampResp: {error}", "timestamp_malformed") from error
    info = response.tst_info
    # 2. SHA-256 over the note text (the only imprint the log asks for).
    if info.message_imprint.hash_algorithm != _SHA256_OID:
        raise _error("the token's imprint is not SHA-256", "timestamp_mismatch")
    # 3-5. Status granted; the token's CMS signature by a certificate chaining to
    # a trusted root, valid at genTime; that certificate's EKU is timeStamping,
    # critical (# SPEC: RFC 3161 §2.3); the imprint is the checkpoint's.
    verifier = VerifierBuilder(roots=list(tsa_roots)).build()
    try:
        verifier.verify(response, checkpoint_imprint(resource.note))
    except VerificationError as error:
        code = "timestamp_mismatch" if "messages" in str(error) else "timestamp_untrusted"
        raise _error(f"the time-stamp does not verify: {error}", code) from error
    # 6. genTime is sane: not in the future, and (when asked) recent enough.
    gen_time = info.gen_time if info.gen_time.tzinfo else info.gen_time.replace(tzinfo=UTC)
    if gen_time > moment + clock_skew:
        raise _error(f"the time-stamp's genTime {gen_time.isoformat()} is in the future", "timestamp_in_future")
    if max_age is not None and moment - gen_time > max_age:
        raise _error(f"the newest time-stamp is from {gen_time.isoformat()}, older than "
                     f"{int(max_age.total_seconds())} s", "timestamp_stale")
    name = info.name
    return VerifiedTimestamp(checkpoint=checkpoint, gen_time=gen_time, serial_number=info.serial_number,
                             tsa_name=name.value.rfc4514_string() if isinstance(name, x509.DirectoryName) else None)


def _error(message: str, code: str) -> LogVerificationError:
    return LogVerificationError(message, code=code, path=TIMESTAMP_PATH)
