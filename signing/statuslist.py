"""Token Status List: a compressed bit array of token states, published as a
signed JWT, that a verifier can check offline.

SPEC: draft-ietf-oauth-status-list-05. Each referenced token (here: a
licence) owns one index; the list reveals nothing about which token a
verifier is looking at, because the verifier fetches the whole list.

Only signing's own modules are imported: an offline verifier needs nothing
else.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

from signing.algorithms import PrivateKey, PublicKey
from signing.encoding import b64url_decode, b64url_encode
from signing.errors import InvalidInput, VerificationCode, VerificationError
from signing.jws import parse_compact, sign_compact
from signing.statuses import KeyPurpose
from signing.truststore import ResolvedKey, TrustStore

TOKEN_TYPE = "statuslist+jwt"  # SPEC: draft-ietf-oauth-status-list-05 §5.1 (JWT header typ)
ALLOWED_BITS = (1, 2, 4, 8)  # SPEC: §4.1 — bits per entry
MAX_ENTRIES = 1 << 24
_MAX_TOKEN_CHARS = 8 << 20
_MAX_DECOMPRESSED = MAX_ENTRIES  # bytes: at most 8 bits per entry
_MAX_NUMERIC_DATE = 1 << 40  # seconds: beyond year 9999, so fromtimestamp refuses the rest cleanly
_MAX_TTL = 366 * 24 * 3600  # a verifier caches a list for at most a year


class TokenStatus(IntEnum):
    """SPEC: draft-ietf-oauth-status-list-05 §7.1 (status types)."""

    VALID = 0x00
    INVALID = 0x01  # revoked, cancelled, expired: never valid again
    SUSPENDED = 0x02  # temporarily invalid; reversible


class StatusList:
    """A fixed-size array of `size` entries of `bits` bits each."""

    def __init__(self, *, size: int, bits: int = 2, data: bytes | None = None) -> None:
        if bits not in ALLOWED_BITS:
            raise InvalidInput(f"bits must be one of {ALLOWED_BITS}")
        if not 0 < size <= MAX_ENTRIES:
            raise InvalidInput(f"a status list holds 1..{MAX_ENTRIES} entries")
        length = (size * bits + 7) // 8
        if data is not None and len(data) != length:
            raise InvalidInput(f"a list of {size} entries of {bits} bits needs {length} bytes, got {len(data)}")
        self.size = size
        self.bits = bits
        self._data = bytearray(data) if data is not None else bytearray(length)

    def _position(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.size:
            raise InvalidInput(f"index {index} is outside the list (size {self.size})")
        # SPEC: §4.1 — entry i sits in byte floor(i * bits / 8), starting at the
        # least significant bit: index 0 is in the lowest bits of byte 0.
        bit = index * self.bits
        return bit // 8, bit % 8

    def get(self, index: int) -> int:
        byte, shift = self._position(index)
        return (self._data[byte] >> shift) & ((1 << self.bits) - 1)

    def set(self, index: int, value: int) -> None:
        if not 0 <= value < (1 << self.bits):
            raise InvalidInput(f"status {value} does not fit in {self.bits} bits")
        byte, shift = self._position(index)
        mask = ((1 << self.bits) - 1) << shift
        self._data[byte] = (self._data[byte] & ~mask) | (value << shift)

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    def to_json(self) -> dict:
        """SPEC: §4.2 — {"bits": n, "lst": base64url(zlib-deflate(bytes))}."""
        return {"bits": self.bits, "lst": b64url_encode(zlib.compress(self.to_bytes(), 9))}

    @classmethod
    def from_json(cls, value: object, *, size: int | None = None) -> StatusList:
        """Parse a `status_list` object. The spec carries no size: the list
        holds every entry its bytes can (`size` trims that when known)."""
        if not isinstance(value, dict) or set(value) - {"bits", "lst", "aggregation_uri"}:
            raise InvalidInput("status_list must be an object with bits and lst")
        bits, lst = value.get("bits"), value.get("lst")
        if type(bits) is not int or bits not in ALLOWED_BITS or not isinstance(lst, str):
            raise InvalidInput("status_list needs bits in {1, 2, 4, 8} and lst as base64url text")
        compressed = b64url_decode(lst, max_length=_MAX_TOKEN_CHARS)
        try:
            # SPEC: §4.1 — DEFLATE with the ZLIB data format (RFC 1950).
            inflater = zlib.decompressobj()
            data = inflater.decompress(compressed, _MAX_DECOMPRESSED + 1)
        except zlib.error:
            raise InvalidInput("status_list lst is not zlib data") from None
        if len(data) > _MAX_DECOMPRESSED or not inflater.eof or inflater.unused_data:
            raise InvalidInput("status_list lst is too large or has trailing data")
        capacity = len(data) * 8 // bits
        if capacity == 0:
            raise InvalidInput("status_list is empty")
        entries = capacity if size is None else size
        if entries > capacity:
            raise InvalidInput(f"status_list holds {capacity} entries, fewer than {entries}")
        return cls(size=capacity, bits=bits, data=data) if size is None else cls._trimmed(data, bits, entries)

    @classmethod
    def _trimmed(cls, data: bytes, bits: int, size: int) -> StatusList:
        return cls(size=size, bits=bits, data=data[: (size * bits + 7) // 8])


@dataclass(frozen=True)
class StatusListToken:
    subject: str  # the URI the list is published at
    issued_at: datetime
    ttl: int | None
    status_list: StatusList
    kid: str

    def status(self, index: int) -> int:
        return self.status_list.get(index)


def sign_status_list_token(
    *, status_list: StatusList, subject: str, key: PrivateKey, issued_at: datetime, ttl: int | None = None
) -> str:
    """A compact JWS (RFC 7515 §7.1) with the claims of §5.1."""
    if str(key.algorithm) != "ES256":
        raise InvalidInput("status list tokens are signed with ES256 keys")
    claims: dict = {"sub": subject, "iat": int(issued_at.timestamp()), "status_list": status_list.to_json()}
    if ttl is not None:
        claims["ttl"] = ttl  # SPEC: §5.1 — how long a verifier may cache the list
    return sign_compact(header={"kid": key.kid, "typ": TOKEN_TYPE}, claims=claims, key=key)


def _fail(code: VerificationCode, message: str) -> VerificationError:
    return VerificationError(code, message)


def verify_status_list_token(
    token: str, *, public_keys: list[PublicKey], subject: str | None = None, now: datetime | None = None
) -> StatusListToken:
    """SPEC: draft-ietf-oauth-status-list-05 §8 (validation), offline, with keys
    the caller pins itself (`verify_trusted_status_list_token` takes them from
    the trust list).

    1. Three base64url parts; header typ statuslist+jwt and alg ES256.
    2. The signature verifies with one of the trusted keys.
    3. Claims: sub (equal to `subject` when given), iat not in the future,
       exp (if any) not past, status_list well formed.
    """
    moment = now or datetime.now(UTC)
    header, claims, signed, signature = _parts(token)  # 1.
    candidates = [k for k in public_keys if str(k.algorithm) == "ES256" and k.kid == header.get("kid")]
    if not candidates:
        raise _fail("unknown_key", f"no trusted key with kid {header.get('kid')!r}")
    if not any(k.verify(signed, signature) for k in candidates):  # 2.
        raise _fail("signature_invalid", "the status list token signature does not verify")
    return _checked_claims(claims, kid=header["kid"], subject=subject, now=moment)  # 3.


def verify_trusted_status_list_token(
    token: str, *, trust_store: TrustStore, subject: str | None = None, now: datetime | None = None
) -> StatusListToken:
    """A status list token whose key the signed trust list vouches for.

    SPEC: draft-ietf-oauth-status-list-05 §8.3 step 3 validates the token's
    signature, and §1.2 leaves key resolution and trust frameworks out of the
    draft; here the key is anchored in the registry's signed trust list
    (docs/formats.md "Trust lists"), never taken from beside the list.

    1. Three base64url parts; header typ statuslist+jwt and alg ES256.
    2. A held trust list names a key with the header's kid and purpose
       `status_list` (else `status_list_untrusted`).
    3. The signature verifies with one of them (else `signature_invalid`).
    4. Claims as in `verify_status_list_token`.
    5. That key belongs to the registry that publishes the list (the list's
       URI starts with its registry id), existed at iat and was neither
       revoked nor retired by then (else `status_list_untrusted`).
    """
    moment = now or datetime.now(UTC)
    header, claims, signed, signature = _parts(token)  # 1.
    kid = header.get("kid")
    candidates = [r for r in trust_store.resolve_kid(kid) if r.key.purpose == KeyPurpose.STATUS_LIST
                  and str(r.key.algorithm) == "ES256"] if isinstance(kid, str) else []
    if not candidates or not isinstance(kid, str):  # 2.
        raise _fail("status_list_untrusted", f"no trust list held names a status-list key with kid {kid!r}")
    verified = [r for r in candidates if r.key.public_key.verify(signed, signature)]
    if not verified:  # 3.
        raise _fail("signature_invalid", "the status list token signature does not verify")
    result = _checked_claims(claims, kid=kid, subject=subject, now=moment)  # 4.
    if not any(_vouches_for(r, result) for r in verified):  # 5.
        raise _fail("status_list_untrusted", f"status-list key {kid} does not vouch for {result.subject!r} "
                    f"at {result.issued_at.isoformat()}: another registry's, revoked, retired or not yet valid")
    return result


def _vouches_for(resolved: ResolvedKey, token: StatusListToken) -> bool:
    key = resolved.key
    if not token.subject.startswith(resolved.registry_id.rstrip("/") + "/"):
        return False
    unusable_from = key.unusable_from()
    return key.valid_from <= token.issued_at and (unusable_from is None or token.issued_at < unusable_from)


def _parts(token: str) -> tuple[dict, dict, bytes, bytes]:
    """Header, claims, signed bytes and signature of a compact JWS; typ and alg checked."""
    jws = parse_compact(token, max_chars=_MAX_TOKEN_CHARS, typ=TOKEN_TYPE)
    return jws.header, jws.claims, jws.signing_input, jws.signature


def _checked_claims(claims: dict, *, kid: str, subject: str | None, now: datetime) -> StatusListToken:
    sub, iat, exp, ttl = claims.get("sub"), claims.get("iat"), claims.get("exp"), claims.get("ttl")
    if not isinstance(sub, str) or iat is None:
        raise _fail("malformed", "sub and iat are required")
    if subject is not None and sub != subject:
        raise _fail("malformed", f"the token is for {sub!r}, not {subject!r}")
    issued_at = _numeric_date(iat, "iat")
    if issued_at.timestamp() > now.timestamp() + 300:
        raise _fail("malformed", "the token was issued in the future")
    if exp is not None and _numeric_date(exp, "exp") <= now:
        raise _fail("expired", "the status list token has expired")
    if ttl is not None and (type(ttl) is not int or not 0 < ttl <= _MAX_TTL):
        raise _fail("malformed", f"ttl must be an integer from 1 to {_MAX_TTL}")
    try:
        status_list = StatusList.from_json(claims.get("status_list"))
    except InvalidInput as error:
        raise _fail("malformed", str(error)) from None
    return StatusListToken(subject=sub, issued_at=issued_at, ttl=ttl, status_list=status_list, kid=kid)


def _numeric_date(value: object, name: str) -> datetime:
    """SPEC: RFC 7519 §2 NumericDate, here whole seconds within datetime's range:
    a value past year 9999 is a malformed token, not an OverflowError."""
    if type(value) is not int or not 0 <= value < _MAX_NUMERIC_DATE:
        raise _fail("malformed", f"{name} must be a whole number of seconds since the epoch")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise _fail("malformed", f"{name} is out of range") from None
