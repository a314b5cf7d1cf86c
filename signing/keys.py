"""Key generation, loading, and encryption of private keys at rest.

Private keys are stored as an envelope:

    version (1 byte, 0x01) || salt (16) || nonce (12) || AES-256-GCM ciphertext+tag

The AES key is HKDF-SHA256(secret, salt, info="certhub signing key-encryption
v1"); the associated data is the version byte followed by the kid (ASCII),
so an envelope moved to another key row fails to open.
"""

from __future__ import annotations

import base64
import binascii
import os

from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from signing.algorithms import DEFAULT_ALGORITHM, Algorithm, PrivateKey, PublicKey
from signing.eddsa import Ed25519PrivateKey, Ed25519PublicKey
from signing.errors import InvalidInput, KeyDecryptionFailed
from signing.es256 import ES256PrivateKey, ES256PublicKey
from signing.sm2 import SM2PrivateKey, SM2PublicKey, sm2_point_from_spki

_ENVELOPE_VERSION = 1
_SALT_SIZE = 16
_NONCE_SIZE = 12
_HKDF_INFO = b"certhub signing key-encryption v1"
_MIN_SECRET_SIZE = 16
_MAX_SPKI_SIZE = 1024

_PRIVATE_KEY_CLASSES: dict[Algorithm, type[ES256PrivateKey] | type[Ed25519PrivateKey] | type[SM2PrivateKey]] = {
    Algorithm.ES256: ES256PrivateKey,
    Algorithm.EDDSA: Ed25519PrivateKey,
    Algorithm.SM2: SM2PrivateKey,
}


def parse_algorithm(value: str | Algorithm) -> Algorithm:
    try:
        return Algorithm(value)
    except ValueError:
        raise InvalidInput(f"unsupported algorithm {value!r}") from None


def generate_private_key(algorithm: Algorithm | str = DEFAULT_ALGORITHM) -> PrivateKey:
    return _PRIVATE_KEY_CLASSES[parse_algorithm(algorithm)].generate()


def load_public_key(spki_der: bytes) -> PublicKey:
    """Import a DER SubjectPublicKeyInfo of any supported algorithm."""
    if not isinstance(spki_der, bytes) or not 0 < len(spki_der) <= _MAX_SPKI_SIZE:
        raise InvalidInput("public key must be DER SPKI bytes of at most 1 KiB")
    try:
        info = asn1_keys.PublicKeyInfo.load(spki_der, strict=True)
        algorithm = info["algorithm"]["algorithm"].native
        if algorithm == "ec" and info["algorithm"]["parameters"].chosen.dotted != "1.2.840.10045.3.1.7":
            return SM2PublicKey(sm2_point_from_spki(info))
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidInput(f"not a usable public key: {error}") from None
    try:
        key = serialization.load_der_public_key(spki_der)
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"not a usable public key: {error}") from None
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return ES256PublicKey(key)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return Ed25519PublicKey(key)
    raise InvalidInput("public key algorithm is not ES256, EdDSA or SM2")


def load_public_key_text(text: str) -> PublicKey:
    """Import a DER SubjectPublicKeyInfo written as text: base64 (what
    `certhub signing init` prints) or base64url with or without padding
    (what the trust list publishes and `certhub demo` prints)."""
    standard = text.strip().replace("-", "+").replace("_", "/")
    try:
        der = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(f"not base64 or base64url: {error}") from None
    return load_public_key(der)


def load_public_key_for(algorithm: Algorithm | str, spki_der: bytes) -> PublicKey:
    """Import a public key and insist it belongs to `algorithm`."""
    key = load_public_key(spki_der)
    if key.algorithm != parse_algorithm(algorithm):
        raise InvalidInput(f"public key is {key.algorithm}, expected {algorithm}")
    return key


def _derive_wrapping_key(secret: bytes | str, salt: bytes) -> AESGCM:
    material = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not isinstance(material, bytes) or len(material) < _MIN_SECRET_SIZE:
        raise InvalidInput("key-encryption secret must be at least 16 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO)
    return AESGCM(hkdf.derive(material))


def _associated_data(kid: str) -> bytes:
    return bytes([_ENVELOPE_VERSION]) + kid.encode("ascii")


def encrypt_private_key(key: PrivateKey, *, secret: bytes | str) -> bytes:
    salt, nonce = os.urandom(_SALT_SIZE), os.urandom(_NONCE_SIZE)
    sealed = _derive_wrapping_key(secret, salt).encrypt(nonce, key.secret_bytes(), _associated_data(key.kid))
    return bytes([_ENVELOPE_VERSION]) + salt + nonce + sealed


def decrypt_private_key(envelope: bytes, *, algorithm: Algorithm | str, kid: str, secret: bytes | str) -> PrivateKey:
    """Open an envelope made by `encrypt_private_key`; fail closed on any mismatch."""
    header = 1 + _SALT_SIZE + _NONCE_SIZE
    if len(envelope) <= header or envelope[0] != _ENVELOPE_VERSION:
        raise KeyDecryptionFailed("unknown or truncated private-key envelope")
    salt, nonce = envelope[1 : 1 + _SALT_SIZE], envelope[1 + _SALT_SIZE : header]
    try:
        plain = _derive_wrapping_key(secret, salt).decrypt(nonce, envelope[header:], _associated_data(kid))
    except InvalidTag:
        raise KeyDecryptionFailed(f"private key {kid} did not decrypt (wrong secret or tampered)") from None
    try:
        key = _PRIVATE_KEY_CLASSES[parse_algorithm(algorithm)].from_secret_bytes(plain)
    except (ValueError, TypeError):
        raise KeyDecryptionFailed(f"private key {kid} is not a valid {algorithm} key") from None
    if key.kid != kid:
        raise KeyDecryptionFailed(f"private key does not match kid {kid}")
    return key
