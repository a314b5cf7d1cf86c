"""Signed notes with Ed25519 keys (C2SP signed-note).

# SPEC: C2SP signed-note — a note is text ending in a newline, a blank line,
# then one or more lines "— <key name> base64(key ID || signature)".
Keys travel as strings: ``<name>+<hex key ID>+base64(0x01 || public key)``
for verifiers and ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)``
for signers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from signing.algorithms import Algorithm
from signing.algorithms import PrivateKey as SigningPrivateKey
from signing.transparency.errors import MalformedError, NoteVerificationError

# SPEC: C2SP signed-note "Signature types" — 0x01 is Ed25519.
ED25519_TYPE = 0x01
KEY_ID_SIZE = 4
ED25519_SIGNATURE_SIZE = 64
ED25519_KEY_SIZE = 32
# Bounds chosen to fail closed on hostile input while accepting the 16
# signatures the spec requires verifiers to handle.
MAX_NOTE_BYTES = 1 << 16
MAX_SIGNATURES = 32
MAX_KEY_NAME_BYTES = 256
_SIGNATURE_PREFIX = "\u2014 "
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")


def key_id(*, name: str, key_type: int, public_key: bytes) -> bytes:
    """First four bytes of SHA-256(name || 0x0A || type || public key)."""
    # SPEC: C2SP signed-note "Signatures" — the recommended key ID.
    check_key_name(name)
    material = name.encode() + b"\n" + bytes([key_type]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def check_key_name(name: str) -> None:
    """Key names are non-empty, without Unicode spaces, '+' or control characters."""
    if not isinstance(name, str) or not name or len(name.encode()) > MAX_KEY_NAME_BYTES:
        raise MalformedError("key name must be 1..256 bytes of text")
    if "+" in name or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise MalformedError("key name must not contain spaces, '+' or control characters")


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A trusted Ed25519 public key with its name and key ID."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise MalformedError("Ed25519 public keys are 32 bytes")
        if self.key_id != key_id(name=self.name, key_type=ED25519_TYPE, public_key=self.public_key):
            raise MalformedError("key ID does not match the key name and public key")

    @classmethod
    def from_key_string(cls, text: str) -> NoteVerifier:
        name, key_id_bytes, encoded = split_key_string(text, private=False)
        _, public_key = _decode_typed_key(encoded)
        return cls(name=name, key_id=key_id_bytes, public_key=public_key)

    def to_key_string(self) -> str:
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verifies(self, *, text: bytes, signature: bytes) -> bool:
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


class NoteSigner:
    """An Ed25519 private key that signs notes under a key name: a seed held
    here, or any `signing.algorithms.PrivateKey` of EdDSA (one kept in a
    PKCS#11 token signs there, see `from_private_key`)."""

    def __init__(self, *, name: str, seed: bytes) -> None:
        check_key_name(name)
        if len(seed) != ED25519_KEY_SIZE:
            raise MalformedError("Ed25519 seeds are 32 bytes")
        private_key = Ed25519PrivateKey.from_private_bytes(seed)
        public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._start(name=name, public_key=public_key, sign=private_key.sign)
        self._private_key: Ed25519PrivateKey | None = private_key

    def _start(self, *, name: str, public_key: bytes, sign: Callable[[bytes], bytes]) -> None:
        check_key_name(name)
        self.name = name
        self._sign = sign
        self.verifier = NoteVerifier(
            name=name, key_id=key_id(name=name, key_type=ED25519_TYPE, public_key=public_key), public_key=public_key
        )

    @classmethod
    def from_private_key(cls, *, name: str, key: SigningPrivateKey) -> NoteSigner:
        """A signer over a key that may not reveal its seed (a token's): it only signs."""
        if key.algorithm != Algorithm.EDDSA:
            raise MalformedError("note signers use Ed25519 keys")
        signer = cls.__new__(cls)
        # SPEC: RFC 8410 §4 — an Ed25519 SPKI ends with the 32-byte public key.
        signer._start(name=name, public_key=key.public_key.spki_der[-ED25519_KEY_SIZE:], sign=key.sign)
        signer._private_key = None
        return signer

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name=name, seed=seed)

    @classmethod
    def from_key_string(cls, text: str) -> NoteSigner:
        name, key_id_bytes, encoded = split_key_string(text, private=True)
        _, seed = _decode_typed_key(encoded)
        signer = cls(name=name, seed=seed)
        if signer.key_id != key_id_bytes:
            raise MalformedError("key ID does not match the key name and public key")
        return signer

    def to_key_string(self) -> str:
        if self._private_key is None:
            raise MalformedError("this signer's key is kept in a token and has no key string")
        seed = self._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + seed).decode()
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    def sign(self, text: bytes) -> bytes:
        return self._sign(text)

    def __repr__(self) -> str:  # never show key material
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()})"


@dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def to_line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A syntactically valid signed note; says nothing yet about trust."""

    text: str
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = MAX_NOTE_BYTES, max_signatures: int = MAX_SIGNATURES) -> Note:
        if not isinstance(data, bytes | bytearray) or len(data) > max_bytes:
            raise MalformedError(f"a note is at most {max_bytes} bytes")
        try:
            decoded = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedError("a note must be valid UTF-8") from error
        # SPEC: C2SP signed-note "Format" — no ASCII control characters but newline.
        if any(ord(ch) < 0x20 and ch != "\n" for ch in decoded):
            raise MalformedError("a note must not contain control characters other than newline")
        separator = decoded.rfind("\n\n")
        if separator < 0 or not decoded.endswith("\n"):
            raise MalformedError("a note needs text, a blank line and signature lines")
        text, block = decoded[: separator + 1], decoded[separator + 2 :]
        lines = block.split("\n")[:-1]
        if not lines:
            raise MalformedError("a note needs at least one signature line")
        if len(lines) > max_signatures:
            raise MalformedError(f"a note may carry at most {max_signatures} signatures")
        return cls(text=text, signatures=tuple(_parse_signature_line(line) for line in lines))

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(sig.to_line() for sig in self.signatures)).encode()


@dataclass(frozen=True, slots=True)
class VerifiedNote:
    """A note with at least one valid signature from a trusted key."""

    text: str
    verified_by: tuple[str, ...]
    note: Note


def sign_note(*, text: str, signers: Sequence[NoteSigner]) -> bytes:
    """Sign ``text`` (which must end in a newline) with every signer."""
    if not signers:
        raise ValueError("at least one signer is needed")
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedError("note text must end in a newline")
    encoded = text.encode()
    signatures = tuple(NoteSignature(s.name, s.key_id, s.sign(encoded)) for s in signers)
    data = Note(text=text, signatures=signatures).to_bytes()
    Note.from_bytes(data)  # what we sign must parse under our own strict rules
    return data


def open_note(data: bytes, *, verifiers: Sequence[NoteVerifier]) -> VerifiedNote:
    """Parse a note and verify it against trusted keys.

    # SPEC: C2SP signed-note "Signatures" — unknown keys (name and ID not both
    # matching) are ignored; a failing known-key signature rejects the note;
    # without a verified known-key signature the note is rejected.
    """
    note = Note.from_bytes(data)
    trusted = {(v.name, v.key_id): v for v in verifiers}
    text = note.text.encode()
    verified_by = []
    for signature in note.signatures:
        verifier = trusted.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if not verifier.verifies(text=text, signature=signature.signature):
            raise NoteVerificationError(f"signature by {signature.name} does not verify", code="bad_signature")
        verified_by.append(signature.name)
    if not verified_by:
        raise NoteVerificationError("no signature from a trusted key", code="unknown_key")
    return VerifiedNote(text=note.text, verified_by=tuple(verified_by), note=note)


def split_key_string(text: str, *, private: bool) -> tuple[str, bytes, str]:
    """(name, key ID, base64 of type byte || key) of a key string:
    ``<name>+<hex key ID>+<base64>``, prefixed ``PRIVATE+KEY+`` when ``private``
    (# SPEC: C2SP signed-note, the key formats of golang.org/x/mod/sumdb/note;
    the cosignature/v1 keys of C2SP tlog-cosignature are written the same way)."""
    form = "PRIVATE+KEY+<name>+<key id>+<key>" if private else "<name>+<key id>+<key>"
    if not isinstance(text, str):
        raise MalformedError(f"a key string is {form}")
    text = text.strip()
    if private:
        if not text.startswith(_PRIVATE_KEY_PREFIX):
            raise MalformedError(f"a private key string is {form}")
        text = text[len(_PRIVATE_KEY_PREFIX) :]
    # The name cannot contain '+', but base64 can: split at most twice.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise MalformedError(f"a key string is {form}")
    name, hex_id, encoded = parts
    check_key_name(name)
    return name, _parse_hex_key_id(hex_id), encoded


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedError("signature lines start with an em dash and a space")
    fields = line[len(_SIGNATURE_PREFIX) :].split(" ")
    if len(fields) != 2:
        raise MalformedError("a signature line is '— <name> <base64>'")
    name, encoded = fields
    check_key_name(name)
    raw = _strict_b64decode(encoded)
    if len(raw) <= KEY_ID_SIZE:
        raise MalformedError("a signature holds a 4-byte key ID and signature bytes")
    return NoteSignature(name=name, key_id=raw[:KEY_ID_SIZE], signature=raw[KEY_ID_SIZE:])


def _decode_typed_key(encoded: str) -> tuple[int, bytes]:
    raw = _strict_b64decode(encoded)
    if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != ED25519_TYPE:
        raise MalformedError("only Ed25519 keys (type 0x01, 32 bytes) are supported")
    return raw[0], raw[1:]


def _parse_hex_key_id(text: str) -> bytes:
    if not _HEX_KEY_ID.fullmatch(text):
        raise MalformedError("key ID must be 8 lowercase hex digits")
    return bytes.fromhex(text)


def _strict_b64decode(text: str) -> bytes:
    """Standard base64 with padding; refuses anything that does not re-encode identically."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise MalformedError("invalid base64") from error
    if base64.b64encode(raw).decode() != text:
        raise MalformedError("base64 is not in canonical form")
    return raw
