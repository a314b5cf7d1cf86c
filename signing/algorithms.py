"""The signature algorithms signing supports, behind one small interface.

| name    | what                                   | signature bytes                      |
|---------|----------------------------------------|--------------------------------------|
| ES256   | ECDSA P-256 with SHA-256 (default)     | raw r||s, 64 bytes (as COSE and JWS) |
| EdDSA   | Ed25519                                | 64 bytes (RFC 8032)                  |
| SM2     | SM2 with SM3, signer ID 1234567812345678 | DER SEQUENCE{r, s} (GB/T 38540)   |

Public keys travel as DER SubjectPublicKeyInfo (SPKI); the key id (kid) is
derived from it, see `kid_for_spki`.
"""

from __future__ import annotations

import base64
import hashlib
from abc import ABC, abstractmethod
from enum import StrEnum


class Algorithm(StrEnum):
    ES256 = "ES256"
    EDDSA = "EdDSA"
    SM2 = "SM2"


DEFAULT_ALGORITHM = Algorithm.ES256

KID_LENGTH = 8


def kid_for_spki(spki_der: bytes) -> str:
    """Key id: base64url (unpadded) of the first 8 bytes of SHA-256(SPKI DER).

    Eight bytes keep QR codes short (as the EU DCC does); collisions are
    tolerated because every lookup tries each key carrying the kid.
    """
    digest = hashlib.sha256(spki_der).digest()[:KID_LENGTH]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class PublicKey(ABC):
    """A verification key of one algorithm."""

    algorithm: Algorithm

    def __init__(self, spki_der: bytes) -> None:
        self._spki_der = spki_der
        self._kid: str | None = None

    @property
    def spki_der(self) -> bytes:
        return self._spki_der

    @property
    def kid(self) -> str:
        if self._kid is None:
            self._kid = kid_for_spki(self._spki_der)
        return self._kid

    @abstractmethod
    def verify(self, data: bytes, signature: bytes) -> bool:
        """True when `signature` is valid over `data`; never raises for bad input."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._spki_der == self._spki_der

    def __hash__(self) -> int:
        return hash(self._spki_der)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.algorithm} kid={self.kid}>"


class PrivateKey(ABC):
    """A signing key; its secret never appears in repr, logs or exceptions."""

    algorithm: Algorithm

    @property
    @abstractmethod
    def public_key(self) -> PublicKey: ...

    @property
    def kid(self) -> str:
        return self.public_key.kid

    @abstractmethod
    def sign(self, data: bytes) -> bytes: ...

    @abstractmethod
    def secret_bytes(self) -> bytes:
        """Plaintext serialisation, only for encryption at rest (see keys.seal_private_key)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.algorithm} kid={self.kid}>"
