"""Witness cosignatures on checkpoints and the k-of-n policy that counts them.

# SPEC: C2SP tlog-cosignature "Format" — a cosignature is a signed-note
# signature line whose key ID is SHA-256(<name> || "\\n" || 0x04 || public
# key)[:4] and whose signature is an 8-byte big-endian POSIX timestamp
# followed by an Ed25519 signature over "cosignature/v1\\ntime <T>\\n" and the
# whole checkpoint body.
Keys travel as vkeys ``<name>+<hex key ID>+base64(0x04 || public key)`` and
signer keys as ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || seed)``.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import MalformedError, VerificationError
from signing.transparency.note import (
    ED25519_KEY_SIZE,
    ED25519_SIGNATURE_SIZE,
    Note,
    NoteSignature,
    NoteVerifier,
    _strict_b64decode,
    check_key_name,
    key_id,
    split_key_string,
)

# SPEC: C2SP tlog-cosignature "Format" — the Ed25519 cosignature/v1 key type.
COSIGNATURE_V1_TYPE = 0x04
COSIGNATURE_V1_HEADER = "cosignature/v1\n"
TIMESTAMP_SIZE = 8
COSIGNATURE_SIZE = TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE
# SPEC: C2SP tlog-cosignature — the timestamp MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = (1 << 63) - 1
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
# A policy names at most this many witnesses (a note carries at most 32 signatures).
MAX_WITNESSES = 31


class WitnessPolicyError(VerificationError):
    """A checkpoint does not carry the cosignatures the policy asks for."""

    code = "witness_policy_unmet"


def cosigned_message(*, checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a cosigner signs for ``checkpoint_text`` at ``timestamp``."""
    _check_timestamp(timestamp)
    if not isinstance(checkpoint_text, str) or not checkpoint_text.endswith("\n"):
        raise MalformedError("checkpoint text must end in a newline")
    # SPEC: C2SP tlog-cosignature "Ed25519 signed message".
    return f"{COSIGNATURE_V1_HEADER}time {timestamp}\n{checkpoint_text}".encode()


def cosignature_timestamp(signature: bytes) -> int:
    """The timestamp a cosignature/v1 signature carries (not yet verified)."""
    if len(signature) != COSIGNATURE_SIZE:
        raise MalformedError(f"a cosignature/v1 signature is {COSIGNATURE_SIZE} bytes")
    (timestamp,) = struct.unpack(">Q", signature[:TIMESTAMP_SIZE])
    _check_timestamp(timestamp)
    return timestamp


@dataclass(frozen=True, slots=True)
class CosignerVerifier:
    """A witness's public key: its name, key ID and Ed25519 key (type 0x04)."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise MalformedError("Ed25519 public keys are 32 bytes")
        if self.key_id != _cosigner_key_id(self.name, self.public_key):
            raise MalformedError("key ID does not match the cosigner name and public key")

    @classmethod
    def from_key_string(cls, text: str) -> CosignerVerifier:
        name, key_id_bytes, encoded = split_key_string(text, private=False)
        return cls(name=name, key_id=key_id_bytes, public_key=_decode_cosigner_key(encoded))

    def to_key_string(self) -> str:
        encoded = base64.b64encode(bytes([COSIGNATURE_V1_TYPE]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verified_timestamp(self, *, checkpoint_text: str, signature: bytes) -> int | None:
        """The cosignature's timestamp if it verifies over ``checkpoint_text``, else None."""
        try:
            timestamp = cosignature_timestamp(signature)
            message = cosigned_message(checkpoint_text=checkpoint_text, timestamp=timestamp)
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature[TIMESTAMP_SIZE:], message)
        except (MalformedError, InvalidSignature, ValueError):
            return None
        return timestamp


class Cosigner:
    """A witness's Ed25519 private key that cosigns checkpoints under its name."""

    def __init__(self, *, name: str, seed: bytes) -> None:
        check_key_name(name)
        if len(seed) != ED25519_KEY_SIZE:
            raise MalformedError("Ed25519 seeds are 32 bytes")
        self._private_key = Ed25519PrivateKey.from_private_bytes(seed)
        public_key = self._private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.name = name
        self.verifier = CosignerVerifier(name=name, key_id=_cosigner_key_id(name, public_key), public_key=public_key)

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name=name, seed=seed)

    @classmethod
    def from_key_string(cls, text: str) -> Cosigner:
        name, key_id_bytes, encoded = split_key_string(text, private=True)
        cosigner = cls(name=name, seed=_decode_cosigner_key(encoded))
        if cosigner.verifier.key_id != key_id_bytes:
            raise MalformedError("key ID does not match the cosigner name and public key")
        return cosigner

    def to_key_string(self) -> str:
        seed = self._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        encoded = base64.b64encode(bytes([COSIGNATURE_V1_TYPE]) + seed).decode()
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def cosign(self, *, checkpoint_text: str, timestamp: int) -> NoteSignature:
        """The cosignature line's content for a checkpoint body at ``timestamp``."""
        message = cosigned_message(checkpoint_text=checkpoint_text, timestamp=timestamp)
        signature = struct.pack(">Q", timestamp) + self._private_key.sign(message)
        return NoteSignature(name=self.name, key_id=self.verifier.key_id, signature=signature)

    def __repr__(self) -> str:  # never show key material
        return f"Cosigner(name={self.name!r}, key_id={self.verifier.key_id.hex()})"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """A log-verified checkpoint and which of the policy's witnesses cosigned it."""

    checkpoint: Checkpoint
    cosigned_by: tuple[str, ...]
    threshold: int

    @property
    def met(self) -> bool:
        return len(self.cosigned_by) >= self.threshold


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """k of n named witnesses must have cosigned a checkpoint for it to count.

    The policy is the verifier's own (pinned) configuration, never read from
    the log it judges. A threshold of 0 accepts uncosigned checkpoints.
    """

    witnesses: tuple[CosignerVerifier, ...]
    threshold: int

    def __post_init__(self) -> None:
        if not isinstance(self.witnesses, tuple) or len(self.witnesses) > MAX_WITNESSES:
            raise MalformedError(f"a policy names at most {MAX_WITNESSES} witnesses, as a tuple")
        names = [witness.name for witness in self.witnesses]
        if len(set(names)) != len(names):
            raise MalformedError("witness names in a policy must be distinct")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise MalformedError("the policy threshold is an integer")
        if not 0 <= self.threshold <= len(self.witnesses):
            raise MalformedError(f"the threshold must be in 0..{len(self.witnesses)}")

    @classmethod
    def from_key_strings(cls, keys: Sequence[str], *, threshold: int) -> WitnessPolicy:
        return cls(witnesses=tuple(CosignerVerifier.from_key_string(key) for key in keys), threshold=threshold)

    def evaluate(
        self, note: bytes, *, log_verifiers: Sequence[NoteVerifier], origin: str | None = None
    ) -> PolicyResult:
        """Verify the log's signature, then count valid cosignatures by this policy's witnesses.

        # SPEC: C2SP signed-note — lines by unknown keys are ignored; a line
        # that names a known witness key but does not verify rejects the note.
        """
        checkpoint = Checkpoint.from_note(note, verifiers=log_verifiers, origin=origin)
        parsed = Note.from_bytes(note)
        known = {(witness.name, witness.key_id): witness for witness in self.witnesses}
        cosigned: list[str] = []
        for line in parsed.signatures:
            witness = known.get((line.name, line.key_id))
            if witness is None:
                continue
            if witness.verified_timestamp(checkpoint_text=parsed.text, signature=line.signature) is None:
                raise VerificationError(f"cosignature by {line.name} does not verify", code="bad_cosignature")
            if line.name not in cosigned:
                cosigned.append(line.name)
        return PolicyResult(checkpoint=checkpoint, cosigned_by=tuple(cosigned), threshold=self.threshold)

    def require(self, note: bytes, *, log_verifiers: Sequence[NoteVerifier], origin: str | None = None) -> PolicyResult:
        """``evaluate``, raising WitnessPolicyError unless the threshold is met."""
        result = self.evaluate(note, log_verifiers=log_verifiers, origin=origin)
        if not result.met:
            named = ", ".join(result.cosigned_by) or "none"
            raise WitnessPolicyError(
                f"{len(result.cosigned_by)} of the {self.threshold} required witness cosignatures (cosigned by: {named})"
            )
        return result


def add_cosignatures(note: bytes, cosignatures: Sequence[NoteSignature]) -> bytes:
    """The note with signature lines appended (duplicates of a line already there are dropped)."""
    parsed = Note.from_bytes(note)
    present = set(parsed.signatures)
    added = tuple(line for line in cosignatures if line not in present)
    combined = Note(text=parsed.text, signatures=parsed.signatures + added).to_bytes()
    Note.from_bytes(combined)  # still within the note bounds
    return combined


def _cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return key_id(name=name, key_type=COSIGNATURE_V1_TYPE, public_key=public_key)


def _decode_cosigner_key(encoded: str) -> bytes:
    raw = _strict_b64decode(encoded)
    if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != COSIGNATURE_V1_TYPE:
        raise MalformedError("a cosignature/v1 key is type 0x04 with 32 bytes of Ed25519 key")
    return raw[1:]


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedError("a cosignature timestamp is an integer in 0..2^63-1")
