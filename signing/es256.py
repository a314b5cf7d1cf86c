"""ES256: ECDSA on P-256 with SHA-256, signatures as raw r||s.

# SPEC: RFC 7518 §3.4 / RFC 9053 §2.1 — the signature is the 32-byte
# big-endian r followed by the 32-byte s, not DER.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from signing.algorithms import Algorithm, PrivateKey, PublicKey

_COORDINATE_SIZE = 32
_SIGNATURE_SIZE = 2 * _COORDINATE_SIZE
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


class ES256PublicKey(PublicKey):
    algorithm = Algorithm.ES256

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs a P-256 key")
        spki = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        super().__init__(spki)
        self._key = key

    @property
    def cryptography_key(self) -> ec.EllipticCurvePublicKey:
        return self._key

    def verify(self, data: bytes, signature: bytes) -> bool:
        if len(signature) != _SIGNATURE_SIZE:
            return False
        r = int.from_bytes(signature[:_COORDINATE_SIZE], "big")
        s = int.from_bytes(signature[_COORDINATE_SIZE:], "big")
        try:
            self._key.verify(encode_dss_signature(r, s), data, _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True


class ES256PrivateKey(PrivateKey):
    algorithm = Algorithm.ES256

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = ES256PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> ES256PrivateKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_secret_bytes(cls, secret: bytes) -> ES256PrivateKey:
        key = serialization.load_der_private_key(secret, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("not an EC private key")
        return cls(key)

    @property
    def public_key(self) -> ES256PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(data, _ECDSA_SHA256))
        return r.to_bytes(_COORDINATE_SIZE, "big") + s.to_bytes(_COORDINATE_SIZE, "big")

    def secret_bytes(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
