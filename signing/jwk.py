"""Holder keys as JSON Web Keys: EC P-256 public keys only.

SPEC: RFC 7517 §4 and RFC 7518 §6.2.1 — `{"kty": "EC", "crv": "P-256",
"x": ..., "y": ...}` with 32-byte coordinates. A holder key arrives from
outside (a wallet POSTs it, a credential's `cnf` carries it), so it is
validated here once: no private part (`d`), the point on the curve, nothing
but the members we know of besides harmless metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from signing.encoding import b64url_decode, b64url_encode
from signing.errors import InvalidInput
from signing.es256 import ES256PublicKey

_COORDINATE_SIZE = 32
_PUBLIC_MEMBERS = frozenset({"kty", "crv", "x", "y"})
# Metadata a wallet may add (RFC 7517 §4.2-4.5); kept out of what we sign, never trusted.
_IGNORED_MEMBERS = frozenset({"kid", "use", "key_ops", "alg"})
# RFC 7518 §6.2.2 (EC private key) and §6.3.2 (RSA private key): members that only a private key has.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MAX_MEMBERS = 16


def public_key_from_jwk(jwk: object) -> ES256PublicKey:
    """An ES256 public key from a JWK; InvalidInput for anything else (private keys included)."""
    if not isinstance(jwk, Mapping) or len(jwk) > _MAX_MEMBERS:
        raise InvalidInput("a holder key is a JSON Web Key object")
    private = _PRIVATE_MEMBERS & set(jwk)
    if private:
        raise InvalidInput(f"the holder key carries private key members {sorted(private)}: send the public key only")
    unknown = set(jwk) - _PUBLIC_MEMBERS - _IGNORED_MEMBERS
    if unknown:
        raise InvalidInput(f"the holder key has unknown members {sorted(unknown)}")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidInput("the holder key must be an EC key on P-256 (kty EC, crv P-256)")
    if "alg" in jwk and jwk["alg"] != "ES256":
        raise InvalidInput("the holder key's alg, when given, must be ES256")
    return _point(_coordinate(jwk, "x"), _coordinate(jwk, "y"))


@lru_cache(maxsize=1024)  # a verifier sees the same wallets again; the point check is most of the parse
def _point(x: int, y: int) -> ES256PublicKey:
    try:
        # cryptography refuses a point that is not on the curve.
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise InvalidInput("the holder key's point is not on P-256") from None
    return ES256PublicKey(key)


def jwk_from_public_key(key: ES256PublicKey) -> dict[str, Any]:
    """The public JWK of an ES256 key: only kty, crv, x and y."""
    numbers = key.cryptography_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(_COORDINATE_SIZE, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_COORDINATE_SIZE, "big")),
    }


def canonical_public_jwk(jwk: object) -> dict[str, Any]:
    """A validated holder JWK reduced to its public members (what a credential's `cnf` carries)."""
    return jwk_from_public_key(public_key_from_jwk(jwk))


def _coordinate(jwk: Mapping[str, Any], name: str) -> int:
    try:
        raw = b64url_decode(jwk.get(name), max_length=64)  # type: ignore[arg-type]
    except InvalidInput:
        raise InvalidInput(f"the holder key's {name} is not base64url") from None
    if len(raw) != _COORDINATE_SIZE:
        raise InvalidInput(f"the holder key's {name} must be {_COORDINATE_SIZE} bytes")
    return int.from_bytes(raw, "big")
