"""Checkpoints: the signed tree head of a tiled log (C2SP tlog-checkpoint).

# SPEC: C2SP tlog-checkpoint "Note text" — origin line, decimal tree size
# without leading zeroes, base64 root hash, then optional non-empty
# extension lines; the whole text is the body of a signed note.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from signing.transparency.errors import MalformedError
from signing.transparency.merkle import HASH_SIZE, MAX_TREE_SIZE
from signing.transparency.note import NoteSigner, NoteVerifier, open_note, sign_note

MAX_ORIGIN_BYTES = 256
MAX_EXTENSION_LINES = 16
MAX_EXTENSION_LINE_BYTES = 1024
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: origin, size, root hash and opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, what="origin", limit=MAX_ORIGIN_BYTES)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedError(f"tree size must be an integer in 0..{MAX_TREE_SIZE}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedError("root hash must be 32 bytes")
        if not isinstance(self.extensions, tuple) or len(self.extensions) > MAX_EXTENSION_LINES:
            raise MalformedError(f"at most {MAX_EXTENSION_LINES} extension lines, as a tuple")
        for line in self.extensions:
            _check_line(line, what="extension line", limit=MAX_EXTENSION_LINE_BYTES)

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse the note text of a checkpoint (no signature check)."""
        if not isinstance(text, str) or not text.endswith("\n"):
            raise MalformedError("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedError("checkpoint text has fewer than three lines")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise MalformedError("tree size must be decimal ASCII without leading zeroes")
        return cls(
            origin=origin,
            size=int(size_text),
            root_hash=_decode_root(root_text),
            extensions=tuple(extensions),
        )

    @classmethod
    def from_note(
        cls, data: bytes, *, verifiers: Sequence[NoteVerifier], origin: str | None = None
    ) -> Checkpoint:
        """Verify a signed checkpoint note and parse it; the only way to trust one.

        Raises NoteVerificationError (``bad_signature``/``unknown_key``) or
        MalformedError; with ``origin`` set, a checkpoint of another log is
        rejected as malformed for this purpose.
        """
        verified = open_note(data, verifiers=verifiers)
        checkpoint = cls.from_text(verified.text)
        if origin is not None and checkpoint.origin != origin:
            raise MalformedError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
        return checkpoint

    def sign(self, *, signers: Sequence[NoteSigner]) -> bytes:
        """The signed note bytes, ready to serve at ``<prefix>/checkpoint``."""
        return sign_note(text=self.to_text(), signers=signers)


def _decode_root(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise MalformedError("root hash is not valid base64") from error
    if len(raw) != HASH_SIZE or base64.b64encode(raw).decode() != text:
        raise MalformedError("root hash must be the canonical base64 of 32 bytes")
    return raw


def _check_line(value: str, *, what: str, limit: int) -> None:
    if not isinstance(value, str) or not value:
        raise MalformedError(f"{what} must be non-empty text")
    if len(value.encode()) > limit:
        raise MalformedError(f"{what} is longer than {limit} bytes")
    if any(ord(ch) < 0x20 for ch in value):
        raise MalformedError(f"{what} must not contain newlines or control characters")
