"""SM2 signatures with SM3 (国密), through gmssl_pyx.

# SPEC: GB/T 32918.2-2016 (SM2 signature), GB/T 35275-2017 (signature
# encoding: DER SEQUENCE{r INTEGER, s INTEGER}), GM/T 0009-2012 §10 (default
# signer ID "1234567812345678" for the Z value).
# SPEC: GB/T 33560 / GM/T 0006 — SPKI uses id-ecPublicKey (1.2.840.10045.2.1)
# with the named curve sm2p256v1 (1.2.156.10197.1.301).
"""

from __future__ import annotations

import gmssl_pyx
from asn1crypto import keys as asn1_keys

from signing.algorithms import Algorithm, PrivateKey, PublicKey
from signing.errors import SigningError

SM2_CURVE_OID = "1.2.156.10197.1.301"
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"
DEFAULT_SIGNER_ID = b"1234567812345678"

_POINT_SIZE = 64  # X || Y, 32 bytes each, without the 0x04 prefix
_SCALAR_SIZE = 32
_MAX_DER_SIGNATURE = 72


def sm2_spki_der(point: bytes) -> bytes:
    """DER SubjectPublicKeyInfo for an uncompressed SM2 point (X||Y)."""
    info = asn1_keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "ec", "parameters": ("named", SM2_CURVE_OID)},
            "public_key": b"\x04" + point,
        }
    )
    return info.dump()


def sm2_point_from_spki(info: asn1_keys.PublicKeyInfo) -> bytes:
    """The 64-byte point of an SM2 SPKI; ValueError when it is not one."""
    algorithm = info["algorithm"]
    if algorithm["algorithm"].native != "ec":
        raise ValueError("not an EC public key")
    parameters = algorithm["parameters"]
    if parameters.name != "named" or parameters.chosen.dotted != SM2_CURVE_OID:
        raise ValueError("EC key is not on the SM2 curve")
    point = info["public_key"].native
    if not isinstance(point, bytes) or len(point) != 1 + _POINT_SIZE or point[0] != 4:
        raise ValueError("SM2 point must be uncompressed (65 bytes, 0x04 prefix)")
    return point[1:]


class SM2PublicKey(PublicKey):
    algorithm = Algorithm.SM2

    def __init__(self, point: bytes, *, signer_id: bytes = DEFAULT_SIGNER_ID) -> None:
        if len(point) != _POINT_SIZE:
            raise ValueError("SM2 public key must be 64 bytes (X||Y)")
        super().__init__(sm2_spki_der(point))
        self._point = point
        self._signer_id = signer_id

    @property
    def point(self) -> bytes:
        return self._point

    def verify(self, data: bytes, signature: bytes) -> bool:
        if not signature or len(signature) > _MAX_DER_SIGNATURE:
            return False
        try:
            return bool(gmssl_pyx.sm2_verify(self._point, data, signature, self._signer_id))
        except gmssl_pyx.GmsslInnerError:
            # Malformed DER or a point off the curve: a failed verification, not a crash.
            return False


class SM2PrivateKey(PrivateKey):
    algorithm = Algorithm.SM2

    def __init__(self, scalar: bytes, point: bytes, *, signer_id: bytes = DEFAULT_SIGNER_ID) -> None:
        if len(scalar) != _SCALAR_SIZE:
            raise ValueError("SM2 private key must be 32 bytes")
        self._scalar = scalar
        self._public = SM2PublicKey(point, signer_id=signer_id)
        self._signer_id = signer_id

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        point, scalar = gmssl_pyx.sm2_key_generate()
        return cls(scalar, point)

    @classmethod
    def from_secret_bytes(cls, secret: bytes) -> SM2PrivateKey:
        # gmssl_pyx cannot derive the point from the scalar, so both are kept.
        if len(secret) != _SCALAR_SIZE + _POINT_SIZE:
            raise ValueError("SM2 secret must be scalar (32) || point (64)")
        return cls(secret[:_SCALAR_SIZE], secret[_SCALAR_SIZE:])

    @property
    def public_key(self) -> SM2PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        try:
            return gmssl_pyx.sm2_sign(self._scalar, self._public.point, data, self._signer_id)
        except gmssl_pyx.GmsslInnerError as error:
            raise SigningError(f"SM2 signing failed: {error}") from None

    def secret_bytes(self) -> bytes:
        return self._scalar + self._public.point
