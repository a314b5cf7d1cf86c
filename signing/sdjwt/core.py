"""SD-JWT (RFC 9901): selective disclosure for JWTs — issuer, holder and verifier.

An issuer signs a JWT whose payload carries, in place of each selectively
disclosable claim, the SHA-256 digest of a *disclosure* (a salted
`[salt, name, value]` array); the holder passes on the disclosures of the
claims it chooses, optionally with a key-binding JWT (KB-JWT) signed by the
key the issuer bound into `cnf`; the verifier checks the issuer's signature,
matches each disclosure to a signed digest, and checks the key binding.

Compact form (RFC 9901 §4): `<issuer JWT>~<disclosure 1>~...~<disclosure n>~[<KB-JWT>]`.

Issuance here makes top-level object properties disclosable (a licence's
face fields are flat); verification follows §7.1 in full, nested and array
disclosures included, so presentations from other issuers' libraries are read
correctly. Every input is bounded before it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from signing.algorithms import PrivateKey, PublicKey
from signing.encoding import b64url_decode, b64url_encode
from signing.errors import InvalidInput, VerificationError
from signing.jwk import public_key_from_jwk
from signing.jws import parse_compact, sign_compact
from signing.sdjwt.errors import SdJwtErrorCode, SdJwtVerificationError

SD_ALG = "sha-256"  # SPEC: RFC 9901 §4.1.1 — the only hash function accepted (the registry's default)
KB_JWT_TYPE = "kb+jwt"  # SPEC: RFC 9901 §4.3
SEPARATOR = "~"
SALT_BYTES = 16  # SPEC: RFC 9901 §9.3 — 128 bits of salt from a CSPRNG
MAX_TOKEN_CHARS = 512 * 1024  # a licence with image fields stays far below
MAX_DISCLOSURES = 256
MAX_DISCLOSURE_CHARS = 64 * 1024
MAX_DEPTH = 16
DEFAULT_KB_MAX_AGE = timedelta(minutes=5)
DEFAULT_SKEW = timedelta(seconds=60)
_RESERVED_NAMES = frozenset({"_sd", "...", "_sd_alg"})  # SPEC: RFC 9901 §4.2.1 — a disclosure may not name these


def _fail(code: SdJwtErrorCode, message: str) -> SdJwtVerificationError:
    return SdJwtVerificationError(code, message)


def digest_of(encoded: str) -> str:
    """SPEC: RFC 9901 §4.2.3 — base64url(SHA-256(ASCII of the disclosure as transmitted))."""
    return b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())


@dataclass(frozen=True)
class Disclosure:
    """One disclosure. Build it with `for_claim`, `for_array_element` or `from_encoded`."""

    encoded: str
    salt: str
    name: str | None  # None: an array element (RFC 9901 §4.2.2)
    value: Any
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", digest_of(self.encoded))

    @classmethod
    def for_claim(cls, name: str, value: Any) -> Disclosure:
        """SPEC: RFC 9901 §4.2.1 — `[salt, claim name, claim value]`, fresh salt."""
        if not isinstance(name, str) or name in _RESERVED_NAMES:
            raise InvalidInput(f"{name!r} cannot be a selectively disclosable claim name")
        salt = b64url_encode(secrets.token_bytes(SALT_BYTES))
        return cls(encoded=_encode_json([salt, name, value]), salt=salt, name=name, value=value)

    @classmethod
    def for_array_element(cls, value: Any) -> Disclosure:
        """SPEC: RFC 9901 §4.2.2 — `[salt, value]`."""
        salt = b64url_encode(secrets.token_bytes(SALT_BYTES))
        return cls(encoded=_encode_json([salt, value]), salt=salt, name=None, value=value)

    @classmethod
    def from_encoded(cls, encoded: str) -> Disclosure:
        """Parse one disclosure as transmitted; SdJwtVerificationError for anything off."""
        if len(encoded) > MAX_DISCLOSURE_CHARS:
            raise _fail("too_large", f"a disclosure is over {MAX_DISCLOSURE_CHARS} characters")
        try:
            value = json.loads(b64url_decode(encoded, max_length=MAX_DISCLOSURE_CHARS).decode("utf-8"))
        except (InvalidInput, ValueError):
            raise _fail("disclosure_invalid", "a disclosure is not base64url UTF-8 JSON") from None
        if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[0], str):
            raise _fail("disclosure_invalid", "a disclosure is [salt, name, value] or [salt, value]")
        if len(value) == 2:
            return cls(encoded=encoded, salt=value[0], name=None, value=value[1])
        if not isinstance(value[1], str) or value[1] in _RESERVED_NAMES:
            raise _fail("disclosure_invalid", f"a disclosure names the claim {value[1]!r}")
        return cls(encoded=encoded, salt=value[0], name=value[1], value=value[2])


def _encode_json(value: Any) -> str:
    return b64url_encode(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass(frozen=True)
class SdJwt:
    """An SD-JWT (or SD-JWT+KB) in parts. Build it with `issue_sd_jwt` or `SdJwt.parse`."""

    issuer_jwt: str
    disclosures: tuple[Disclosure, ...]
    key_binding_jwt: str | None = None

    def serialize(self) -> str:
        """SPEC: RFC 9901 §4 — the KB-JWT, when there is one, follows the last `~`."""
        return self._without_key_binding() + (self.key_binding_jwt or "")

    def _without_key_binding(self) -> str:
        return SEPARATOR.join([self.issuer_jwt, *(d.encoded for d in self.disclosures)]) + SEPARATOR

    @classmethod
    def parse(cls, token: object) -> SdJwt:
        """Split the compact form (no signature is checked here)."""
        if not isinstance(token, str):
            raise _fail("malformed", "an SD-JWT is text")
        if len(token) > MAX_TOKEN_CHARS:
            raise _fail("too_large", f"the SD-JWT is over {MAX_TOKEN_CHARS} characters")
        if not token.isascii() or SEPARATOR not in token:
            raise _fail("malformed", "an SD-JWT is ASCII: <issuer JWT>~<disclosures>~[<KB-JWT>]")
        issuer_jwt, *middle, last = token.split(SEPARATOR)
        if len(middle) > MAX_DISCLOSURES:
            raise _fail("too_large", f"more than {MAX_DISCLOSURES} disclosures")
        if not issuer_jwt or any(not part for part in middle):
            raise _fail("malformed", "an empty part between separators")
        disclosures = tuple(Disclosure.from_encoded(part) for part in middle)
        return cls(issuer_jwt=issuer_jwt, disclosures=disclosures, key_binding_jwt=last or None)

    def unverified_payload(self) -> dict[str, Any]:
        """The issuer JWT's payload as the holder reads it (the holder trusts its own issuer)."""
        parts = self.issuer_jwt.split(".")
        try:
            payload = json.loads(b64url_decode(parts[1], max_length=MAX_TOKEN_CHARS)) if len(parts) == 3 else None
        except (InvalidInput, ValueError):
            payload = None
        if not isinstance(payload, dict):
            raise InvalidInput("the issuer JWT's payload is not a base64url JSON object")
        return payload

    def select(self, claim_names: Iterable[str]) -> SdJwt:
        """The holder's choice (RFC 9901 §7.2): the disclosures of the named claims, no KB-JWT.

        Top-level names only (what this library issues); a name the SD-JWT
        cannot disclose is refused rather than silently left out.
        """
        wanted = set(claim_names)
        available = {d.name for d in self.disclosures if d.name is not None}
        missing = wanted - available
        if missing:
            raise InvalidInput(f"the SD-JWT has no disclosure for {sorted(missing)}")
        kept = tuple(d for d in self.disclosures if d.name in wanted)
        return SdJwt(issuer_jwt=self.issuer_jwt, disclosures=kept)

    def with_key_binding(self, *, holder_key: PrivateKey, nonce: str, audience: str, issued_at: datetime) -> SdJwt:
        """SPEC: RFC 9901 §4.3 — sign `{iat, aud, nonce, sd_hash}` with the key bound in `cnf`."""
        claims = {"iat": int(issued_at.timestamp()), "aud": audience, "nonce": nonce,
                  "sd_hash": digest_of(self._without_key_binding())}
        kb_jwt = sign_compact(header={"typ": KB_JWT_TYPE}, claims=claims, key=holder_key)
        return SdJwt(issuer_jwt=self.issuer_jwt, disclosures=self.disclosures, key_binding_jwt=kb_jwt)


def issue_sd_jwt(
    *,
    claims: Mapping[str, Any],
    disclosable: Mapping[str, Any],
    key: PrivateKey,
    header: Mapping[str, Any],
    decoys: int | None = None,
) -> SdJwt:
    """Sign `claims` in the clear and `disclosable` as selectively disclosable top-level claims.

    SPEC: RFC 9901 §4.2.4.1 — the `_sd` digests are sorted, so their order
    says nothing about the claims'; §4.2.5 — decoy digests (a random number
    from 1 to 5 unless `decoys` says) hide how many claims there are.
    """
    overlap = set(claims) & set(disclosable)
    if overlap or _RESERVED_NAMES & set(claims):
        raise InvalidInput(f"claims both in the clear and disclosable, or reserved: {sorted(overlap)}")
    if len(disclosable) > MAX_DISCLOSURES:
        raise InvalidInput(f"at most {MAX_DISCLOSURES} disclosable claims")
    disclosures = tuple(Disclosure.for_claim(name, value) for name, value in disclosable.items())
    count = 1 + secrets.randbelow(5) if decoys is None else decoys
    decoy_digests = [b64url_encode(hashlib.sha256(secrets.token_bytes(SALT_BYTES)).digest()) for _ in range(count)]
    payload = {**claims, "_sd": sorted([d.digest for d in disclosures] + decoy_digests), "_sd_alg": SD_ALG}
    issuer_jwt = sign_compact(header=dict(header), claims=payload, key=key)
    return SdJwt(issuer_jwt=issuer_jwt, disclosures=disclosures)


@dataclass(frozen=True)
class KeyBindingCheck:
    """What the verifier expects of the KB-JWT: its own nonce and audience, and how fresh."""

    nonce: str
    audience: str
    max_age: timedelta = DEFAULT_KB_MAX_AGE
    skew: timedelta = DEFAULT_SKEW

    def __post_init__(self) -> None:
        if not self.nonce or not self.audience:
            raise InvalidInput("key binding needs the verifier's nonce and audience")
        if not timedelta(0) < self.max_age <= timedelta(hours=1) or not timedelta(0) <= self.skew <= timedelta(minutes=10):
            raise InvalidInput("key binding max_age must be within an hour and skew within ten minutes")


@dataclass(frozen=True)
class VerifiedSdJwt:
    header: dict[str, Any]
    claims: dict[str, Any]  # the payload with every disclosed claim in place, `_sd` and `_sd_alg` gone
    disclosed: dict[str, Any]  # only the top-level claims that came from disclosures
    issuer_key: PublicKey
    key_bound_at: datetime | None  # the KB-JWT's iat, when key binding was checked


KeyResolver = Callable[[dict[str, Any], dict[str, Any]], Sequence[PublicKey]]


def verify_sd_jwt(
    token: object,
    *,
    typ: str,
    resolve_keys: KeyResolver,
    key_binding: KeyBindingCheck | None,
    now: datetime,
) -> VerifiedSdJwt:
    """Verify an SD-JWT (RFC 9901 §7.1 and §7.3); return its claims or raise SdJwtVerificationError.

    1. Split the compact form, bounded (`too_large`, `malformed`).
    2. The issuer JWT: typ and alg ES256; `resolve_keys(header, payload)` names the
       candidate keys (none: `unknown_key`); one must verify it (`signature_invalid`).
    3. `_sd_alg` is sha-256 (or absent, meaning it).
    4. Each disclosure once (`disclosure_duplicate`); each digest replaced by its
       disclosure where it is referenced, the rules of §7.1 step 3 applied
       (`disclosure_invalid`, `disclosure_duplicate`).
    5. Every disclosure was referenced (`disclosure_unreferenced`).
    6. With `key_binding`: the KB-JWT is there, signed by `cnf.jwk`, for this
       presentation (`sd_hash`), nonce and audience, and fresh.
    """
    sd_jwt = SdJwt.parse(token)  # 1.
    try:
        jws = parse_compact(sd_jwt.issuer_jwt, max_chars=MAX_TOKEN_CHARS, typ=typ)  # 2.
    except VerificationError as error:
        raise _fail("malformed", f"issuer JWT: {error}") from None
    candidates = resolve_keys(jws.header, jws.claims)
    if not candidates:
        raise _fail("unknown_key", f"no trusted key for kid {jws.header.get('kid')!r} of {jws.claims.get('iss')!r}")
    issuer_key = next((k for k in candidates if k.verify(jws.signing_input, jws.signature)), None)
    if issuer_key is None:
        raise _fail("signature_invalid", "the issuer's signature does not verify with any trusted key of that kid")
    if jws.claims.get("_sd_alg", SD_ALG) != SD_ALG:  # 3.
        raise _fail("malformed", f"_sd_alg {jws.claims.get('_sd_alg')!r} is not {SD_ALG}")
    by_digest: dict[str, Disclosure] = {}
    for disclosure in sd_jwt.disclosures:  # 4.
        if disclosure.digest in by_digest:
            raise _fail("disclosure_duplicate", "the same disclosure is given twice")
        by_digest[disclosure.digest] = disclosure
    payload = {k: v for k, v in jws.claims.items() if k != "_sd_alg"}
    unpacker = _Unpacker(by_digest)
    claims = unpacker.object(payload, depth=0)
    unreferenced = set(by_digest) - unpacker.used  # 5.
    if unreferenced:
        raise _fail("disclosure_unreferenced", f"{len(unreferenced)} disclosure(s) match no digest the issuer signed")
    disclosed = {name: claims[name] for name in unpacker.top_level}
    bound_at = None
    if key_binding is not None:  # 6.
        bound_at = _check_key_binding(sd_jwt, claims=claims, expected=key_binding, now=now)
    return VerifiedSdJwt(header=jws.header, claims=claims, disclosed=disclosed, issuer_key=issuer_key,
                         key_bound_at=bound_at)


class _Unpacker:
    """SPEC: RFC 9901 §7.1 step 3 — replace digests by the disclosures that match them, recursively."""

    def __init__(self, by_digest: Mapping[str, Disclosure]) -> None:
        self._by_digest = by_digest
        self.used: set[str] = set()
        self._seen: set[str] = set()
        self.top_level: list[str] = []

    def _digest_once(self, digest: object) -> Disclosure | None:
        if not isinstance(digest, str):
            raise _fail("malformed", "a digest is a string")
        if digest in self._seen:  # §7.1 step 4: a digest appears once in the payload and the disclosures
            raise _fail("disclosure_duplicate", "a digest appears more than once")
        self._seen.add(digest)
        disclosure = self._by_digest.get(digest)
        if disclosure is not None:
            self.used.add(digest)
        return disclosure

    def value(self, value: Any, *, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _fail("too_large", f"claims nest deeper than {MAX_DEPTH}")
        if isinstance(value, dict):
            return self.object(value, depth=depth)
        if isinstance(value, list):
            return self._array(value, depth=depth)
        return value

    def object(self, value: dict[str, Any], *, depth: int) -> dict[str, Any]:
        digests = value.get("_sd", [])
        if not isinstance(digests, list):
            raise _fail("malformed", "_sd is an array of digests")
        result = {k: self.value(v, depth=depth + 1) for k, v in value.items() if k != "_sd"}
        for digest in digests:
            disclosure = self._digest_once(digest)
            if disclosure is None:
                continue  # a decoy, or a claim the holder keeps back
            if disclosure.name is None:
                raise _fail("disclosure_invalid", "an array-element disclosure is referenced from an object's _sd")
            if disclosure.name in result:  # §7.1 step 3.2.2.3: a disclosure never overwrites a claim
                raise _fail("disclosure_invalid", f"the disclosure of {disclosure.name!r} repeats a claim")
            result[disclosure.name] = self.value(disclosure.value, depth=depth + 1)
            if depth == 0:
                self.top_level.append(disclosure.name)
        return result

    def _array(self, value: list[Any], *, depth: int) -> list[Any]:
        result = []
        for element in value:
            if isinstance(element, dict) and "..." in element:
                if len(element) != 1:  # §4.2.4.2: `{"...": digest}` and nothing else
                    raise _fail("malformed", "an array-element digest object has other members")
                disclosure = self._digest_once(element["..."])
                if disclosure is None:
                    continue
                if disclosure.name is not None:
                    raise _fail("disclosure_invalid", "an object-property disclosure is referenced from an array")
                result.append(self.value(disclosure.value, depth=depth + 1))
            else:
                result.append(self.value(element, depth=depth + 1))
        return result


def _check_key_binding(sd_jwt: SdJwt, *, claims: Mapping[str, Any], expected: KeyBindingCheck, now: datetime) -> datetime:
    """SPEC: RFC 9901 §4.3.1 and §7.3 step 5 — validating the KB-JWT."""
    if sd_jwt.key_binding_jwt is None:
        raise _fail("key_binding_missing", "the presentation has no key-binding JWT")
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or "jwk" not in cnf:
        raise _fail("key_binding_missing", "the credential binds no holder key (cnf.jwk)")
    try:
        holder_key = public_key_from_jwk(cnf["jwk"])
    except InvalidInput as error:
        raise _fail("key_binding_invalid", f"cnf.jwk: {error}") from None
    try:
        kb = parse_compact(sd_jwt.key_binding_jwt, max_chars=MAX_DISCLOSURE_CHARS, typ=KB_JWT_TYPE)
    except VerificationError as error:
        raise _fail("key_binding_invalid", f"key-binding JWT: {error}") from None
    if not holder_key.verify(kb.signing_input, kb.signature):
        raise _fail("key_binding_invalid", "the key-binding JWT is not signed by the holder key in cnf")
    if kb.claims.get("sd_hash") != digest_of(sd_jwt._without_key_binding()):
        raise _fail("key_binding_invalid", "sd_hash does not match this presentation")
    if kb.claims.get("nonce") != expected.nonce:
        raise _fail("nonce_mismatch", "the key-binding JWT answers another nonce")
    if kb.claims.get("aud") != expected.audience:
        raise _fail("audience_mismatch", "the key-binding JWT is meant for another verifier")
    iat = kb.claims.get("iat")
    if type(iat) is not int:
        raise _fail("key_binding_invalid", "the key-binding JWT has no iat")
    moment = now.timestamp()
    if iat > moment + expected.skew.total_seconds():
        raise _fail("key_binding_invalid", "the key-binding JWT was issued in the future")
    if iat < moment - (expected.max_age + expected.skew).total_seconds():
        raise _fail("replayed", f"the key-binding JWT is older than {expected.max_age}")
    return datetime.fromtimestamp(iat, now.tzinfo)
