"""COSE_Sign1 (RFC 9052 §4.2) with a single signer, as QR codes carry it.

    COSE_Sign1 = #6.18([protected: bstr .cbor header_map, unprotected: {},
                        payload: bstr, signature: bstr])

Algorithms (RFC 9053 §2 and the IANA "COSE Algorithms" registry):

| COSE alg | ours | signature in COSE |
|---|---|---|
| -7 ES256 | ES256 | raw r || s, 64 bytes (RFC 9053 §2.1) |
| -8 EdDSA | EdDSA (Ed25519) | 64 bytes (RFC 9053 §2.2) |
| -37 PS256 | verify only (EU DCC signers) | RSASSA-PSS, SHA-256, salt 32 (RFC 8230 §2) |
| -65537 | SM2 with SM3 (private use, see below) | raw r || s, 64 bytes |

SM2 has no registered COSE algorithm. -65537 is the first value of the
registry's "Reserved for Private Use" range (less than -65536); the
signature is encoded like ECDSA in COSE (32-byte r then 32-byte s) rather
than the DER SEQUENCE GB/T 35275 uses elsewhere, so it has a fixed length.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from signing.algorithms import Algorithm, PrivateKey, PublicKey
from signing.qr.errors import QrVerificationError

ALG_ES256 = -7  # SPEC: RFC 9053 §2.1
ALG_EDDSA = -8  # SPEC: RFC 9053 §2.2
ALG_PS256 = -37  # SPEC: RFC 8230 §2
ALG_SM2 = -65537  # private use (IANA COSE Algorithms: values < -65536)

HEADER_ALG = 1  # SPEC: RFC 9052 §3.1
HEADER_KID = 4
COSE_SIGN1_TAG = 18  # SPEC: RFC 9052 §2
CWT_TAG = 61  # SPEC: RFC 8392 §6

_COSE_ALGORITHMS = {Algorithm.ES256: ALG_ES256, Algorithm.EDDSA: ALG_EDDSA, Algorithm.SM2: ALG_SM2}
_ALGORITHMS_BY_COSE = {value: name for name, value in _COSE_ALGORITHMS.items()}
_COORDINATE = 32
_MAX_KID = 64
_MAX_SIGNATURE = 1024  # RSA-8192 at most


def cose_algorithm(algorithm: Algorithm) -> int:
    return _COSE_ALGORITHMS[Algorithm(algorithm)]


def algorithm_for(cose_alg: int) -> Algorithm | None:
    return _ALGORITHMS_BY_COSE.get(cose_alg)


def _fail(message: str) -> QrVerificationError:
    return QrVerificationError("cose_invalid", message)


@dataclass(frozen=True)
class Sign1:
    """A parsed COSE_Sign1; build it with `decode_sign1`. Nothing in it is verified yet."""

    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes
    tagged: bool

    @property
    def alg(self) -> int | None:
        value = self.protected.get(HEADER_ALG)
        return value if type(value) is int else None

    def kid(self, *, allow_unprotected: bool = False) -> bytes | None:
        """The kid from the protected header (or, when allowed, the unprotected one)."""
        value = self.protected.get(HEADER_KID)
        if value is None and allow_unprotected:
            value = self.unprotected.get(HEADER_KID)
        return value if isinstance(value, bytes) and 0 < len(value) <= _MAX_KID else None

    def signed_data(self) -> bytes:
        return signature_input(self.protected_bytes, self.payload)


# SPEC: RFC 9052 §4.4 — Sig_structure = ["Signature1", body_protected,
# external_aad (empty here), payload], CBOR-encoded. It is built on every
# verification, so its fixed head is spelled out: array of 4 (0x84), text
# "Signature1" (0x6a + 10 bytes); then the two byte strings and, between
# them, the empty external_aad (0x40). A test pins it to cbor2's encoding.
_SIG_STRUCTURE_HEAD = b"\x84\x6aSignature1"


def _bstr_head(length: int) -> bytes:
    # SPEC: RFC 8949 §3.1 — major type 2; the length in the head's shortest form.
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    return b"\x5a" + length.to_bytes(4, "big")


def signature_input(protected_bytes: bytes, payload: bytes) -> bytes:
    return b"".join((
        _SIG_STRUCTURE_HEAD, _bstr_head(len(protected_bytes)), protected_bytes, b"\x40",
        _bstr_head(len(payload)), payload,
    ))


def encode_sign1(*, key: PrivateKey, kid: bytes, payload: bytes) -> bytes:
    """A tagged COSE_Sign1 with alg and kid in the protected header, signed by `key`."""
    protected_bytes = cbor2.dumps({HEADER_ALG: cose_algorithm(key.algorithm), HEADER_KID: kid})
    signature = _cose_signature(key, signature_input(protected_bytes, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected_bytes, {}, payload, signature]))


def _cose_signature(key: PrivateKey, data: bytes) -> bytes:
    signature = key.sign(data)
    if key.algorithm == Algorithm.SM2:  # DER SEQUENCE{r, s} -> r || s
        r, s = decode_dss_signature(signature)
        return r.to_bytes(_COORDINATE, "big") + s.to_bytes(_COORDINATE, "big")
    return signature  # ES256 keys already give raw r || s; Ed25519 is 64 bytes


def verify_with(public_key: PublicKey, cose_alg: int, data: bytes, signature: bytes) -> bool:
    """True when `signature` (COSE form) is valid over `data`; False for any mismatch."""
    if algorithm_for(cose_alg) != public_key.algorithm:
        return False
    if public_key.algorithm == Algorithm.SM2:  # r || s -> DER for GB/T 35275 verification
        if len(signature) != 2 * _COORDINATE:
            return False
        r = int.from_bytes(signature[:_COORDINATE], "big")
        s = int.from_bytes(signature[_COORDINATE:], "big")
        signature = encode_dss_signature(r, s)
    return public_key.verify(data, signature)


def verify_x509_key(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | object, cose_alg: int, data: bytes,
                    signature: bytes) -> bool:
    """Verify with a certificate's key (EU DCC signers: ES256 or PS256)."""
    try:
        if cose_alg == ALG_ES256 and isinstance(key, ec.EllipticCurvePublicKey):
            # SPEC: RFC 9053 §2.1 — ES256 is ECDSA with SHA-256; pairing it with P-256
            # is only "suggested", and deployed DCC signers use P-384 keys with -7.
            # The signature is r || s, each as long as the curve's coordinates.
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                return False
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
            return True
        if cose_alg == ALG_PS256 and isinstance(key, rsa.RSAPublicKey):
            # SPEC: RFC 8230 §2 — MGF1 with SHA-256, salt length = hash length.
            key.verify(signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


def strict_loads(data: bytes) -> Any:
    """One CBOR data item and nothing after it (cbor2.loads ignores trailing bytes).

    ValueError (or a subclass) for anything that is not exactly one item.
    """
    stream = io.BytesIO(data)
    item = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(data):
        raise ValueError("bytes follow the CBOR item")
    return item


_DECODE_ERRORS = (ValueError, TypeError, LookupError, OverflowError, RecursionError, EOFError)


def decode_sign1(data: bytes, *, require_tag: bool = True) -> Sign1:
    """Parse (not verify) a COSE_Sign1.

    The tag 18 is required for our codes; EU DCC codes may come untagged or
    wrapped in the CWT tag 61 (RFC 8392 §6), so `require_tag=False` accepts both.
    """
    try:
        item = strict_loads(data)
    except _DECODE_ERRORS:
        raise _fail("not one CBOR item") from None
    tagged = False
    if not require_tag and isinstance(item, cbor2.CBORTag) and item.tag == CWT_TAG:
        item = item.value
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise _fail(f"CBOR tag {item.tag} is not COSE_Sign1 (18)")
        item, tagged = item.value, True
    elif require_tag:
        raise _fail("COSE_Sign1 must carry tag 18")
    if not isinstance(item, list) or len(item) != 4:
        raise _fail("COSE_Sign1 is an array of four items")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes) or not isinstance(unprotected, dict):
        raise _fail("protected header must be a bstr and unprotected header a map")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes) or not 0 < len(signature) <= _MAX_SIGNATURE:
        raise _fail("payload and signature must be byte strings (detached payloads are not supported)")
    protected = _protected_map(protected_bytes)
    return Sign1(protected_bytes, protected, unprotected, payload, signature, tagged)


def _protected_map(protected_bytes: bytes) -> Mapping[Any, Any]:
    # SPEC: RFC 9052 §3 — a zero-length bstr stands for an empty map.
    if protected_bytes == b"":
        return {}
    try:
        protected = strict_loads(protected_bytes)
    except _DECODE_ERRORS:
        raise _fail("protected header is not one CBOR item") from None
    if not isinstance(protected, dict):
        raise _fail("protected header is not a map")
    return protected
