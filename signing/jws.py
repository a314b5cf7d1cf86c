"""Compact JWS (RFC 7515 §7.1) made and read with signing's own keys.

The registry's keys may live in a hardware token (signing/hsm.py) and sign
through `PrivateKey.sign`, so tokens are assembled here rather than handed to
a JOSE library that wants the key material. Only ES256 is written or
accepted: it is the one algorithm of ours with a registered JOSE name
(RFC 7518 §3.4, signature as raw r || s, which is what our ES256 keys
produce). The Token Status List (signing/statuslist.py) and SD-JWT
(signing/sdjwt/) both build on these two functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from signing.algorithms import Algorithm, PrivateKey
from signing.encoding import b64url_decode, b64url_encode
from signing.errors import InvalidInput, VerificationError

JOSE_ALGORITHM = "ES256"
_MAX_PART_CHARS = 1 << 24


def b64url_json(value: dict[str, Any]) -> str:
    """base64url of the UTF-8 JSON (compact; non-ASCII text kept as UTF-8, RFC 8259 §8.1)."""
    return b64url_encode(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def sign_compact(*, header: dict[str, Any], claims: dict[str, Any], key: PrivateKey) -> str:
    """`header.claims.signature`; `alg` is set from the key (only ES256 is accepted)."""
    if key.algorithm != Algorithm.ES256:
        raise InvalidInput(f"JWS is signed with ES256 keys only, not {key.algorithm}")
    signing_input = f"{b64url_json({**header, 'alg': JOSE_ALGORITHM})}.{b64url_json(claims)}"
    # SPEC: RFC 7515 §5.1 — the signature covers ASCII(BASE64URL(header) || '.' || BASE64URL(payload)).
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode("ascii")))


@dataclass(frozen=True)
class CompactJws:
    """A compact JWS split and decoded, its signature not yet checked. Build it with `parse_compact`."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: object, *, max_chars: int, typ: str) -> CompactJws:
    """Three base64url parts of JSON objects, header `typ` as expected and `alg` ES256.

    SPEC: RFC 8725 §3.1 and §3.11 — the algorithm is fixed (no `none`, no
    choice by the token) and the explicit type keeps one kind of JWT from
    being accepted as another.
    """
    if not isinstance(token, str) or len(token) > max_chars or token.count(".") != 2:
        raise VerificationError("malformed", f"a {typ} token is a compact JWS of three parts")
    header_b64, claims_b64, signature_b64 = token.split(".")
    header, claims = _json_part(header_b64, typ), _json_part(claims_b64, typ)
    if header.get("typ") != typ or header.get("alg") != JOSE_ALGORITHM:
        raise VerificationError("malformed", f"expected typ {typ} and alg {JOSE_ALGORITHM}")
    if "crit" in header:  # SPEC: RFC 7515 §4.1.11 — no extension is understood, so none may be critical
        raise VerificationError("malformed", f"the {typ} header names critical extensions")
    try:
        signature = b64url_decode(signature_b64, max_length=_MAX_PART_CHARS)
    except InvalidInput:
        raise VerificationError("malformed", "the signature is not base64url") from None
    return CompactJws(header=header, claims=claims, signing_input=f"{header_b64}.{claims_b64}".encode("ascii"),
                      signature=signature)


def _json_part(part: str, typ: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part, max_length=_MAX_PART_CHARS))
    except (InvalidInput, ValueError):
        raise VerificationError("malformed", f"a part of the {typ} token is not base64url JSON") from None
    if not isinstance(value, dict):
        raise VerificationError("malformed", f"a part of the {typ} token is not a JSON object")
    return value
