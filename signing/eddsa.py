"""EdDSA with Ed25519 (# SPEC: RFC 8032 §5.1; RFC 8410 for the SPKI)."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from signing.algorithms import Algorithm, PrivateKey, PublicKey


class Ed25519PublicKey(PublicKey):
    algorithm = Algorithm.EDDSA

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        spki = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        super().__init__(spki)
        self._key = key

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class Ed25519PrivateKey(PrivateKey):
    algorithm = Algorithm.EDDSA

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self._public = Ed25519PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> Ed25519PrivateKey:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_secret_bytes(cls, secret: bytes) -> Ed25519PrivateKey:
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(secret))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def secret_bytes(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
