"""private_key_jwt: a department's system authenticates with a JWT it signed
with its own private key, so the hub keeps no shared secret for it.

SPEC: RFC 7523 §2.2 (JWT for client authentication) and §3 (claims),
RFC 7521 §4.2 (client_assertion_type / client_assertion parameters),
OpenID Connect Core 1.0 §9 (the name private_key_jwt, jti single use),
RFC 7638 (JWK thumbprints as default key ids).

Accepted assertions (docs/clients.md):
- header: alg ES256 or EdDSA (the registered key's algorithm; "none", HMAC
  and everything else are refused before any key is used), kid naming one of
  the client's keys;
- claims: iss = sub = client_id; aud = the registry id or the token endpoint
  URL (`<registry id>/api/v1/oauth/token`); exp at most MAX_LIFETIME ahead;
  iat not in the future; jti used once; optional nbf; optional operator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
    load_pem_public_key,
)
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.errors import Forbidden, InvalidClient, InvalidCode, InvalidRegistration
from identity.models import ApiClient, ApiClientKey, ClientAssertionUse
from identity.operators import OPERATOR_HEADER, validate_operator_id
from identity.tokens import Principal
from storage.base import utcnow
from storage.cache import Cache

# SPEC: RFC 7523 §2.2: the client_assertion_type value for JWT bearer client authentication.
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_ENDPOINT_PATH = "/api/v1/oauth/token"
PRIVATE_KEY_JWT = "private_key_jwt"
CLIENT_SECRET = "client_secret"
AUTH_METHODS = (CLIENT_SECRET, PRIVATE_KEY_JWT)

SUPPORTED_ALGORITHMS = ("ES256", "EdDSA")
MAX_ASSERTION_LENGTH = 8192
# How far ahead exp may lie: an hour, the lifetime common clients sign with
# (Authlib's default expires_in is 3600 s); published in the RFC 8414
# metadata as client_assertion_max_lifetime_seconds. Replay is still refused
# for the whole hour: the jti is kept until exp (_spend_jti).
MAX_LIFETIME = timedelta(hours=1)
CLOCK_SKEW = timedelta(seconds=30)
MAX_JTI_LENGTH = 200
MAX_PUBLIC_KEY_TEXT = 8192
_KID = re.compile(r"[0-9A-Za-z._\-]{1,64}")


class InvalidClientAssertion(InvalidClient):
    """The assertion was refused. The HTTP answer is always invalid_client
    (RFC 6749 §5.2); ``reason`` says which step failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"client assertion refused ({reason}): {message}")
        self.reason = reason


class InvalidClientKey(InvalidRegistration):
    """A public key offered for registration is unusable; the message says why."""

    code = "invalid_key"


@dataclass(frozen=True)
class ParsedPublicKey:
    algorithm: str
    spki_der: bytes
    thumbprint: str
    kid_hint: str | None  # the "kid" of a JWK, when it had one


@dataclass(frozen=True)
class VerifiedAssertion:
    client: ApiClient
    key: ApiClientKey
    jti: str
    expires_at: datetime
    operator: str | None


# -- keys -------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwk_members(public_key: ec.EllipticCurvePublicKey | Ed25519PublicKey) -> dict[str, str]:
    """The required members of the key's JWK, in RFC 7638 §3.2 order rules."""
    if isinstance(public_key, Ed25519PublicKey):
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))}
    numbers = public_key.public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": _b64url(numbers.x.to_bytes(32, "big")), "y": _b64url(numbers.y.to_bytes(32, "big"))}


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey | Ed25519PublicKey) -> str:
    # SPEC: RFC 7638 §3: SHA-256 over the required members, lexicographic order, no whitespace.
    canonical = json.dumps(_jwk_members(public_key), sort_keys=True, separators=(",", ":")).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def public_jwk(key: ApiClientKey) -> dict[str, str]:
    public_key = load_der_public_key(key.public_key)
    return {**_jwk_members(public_key), "kid": key.kid, "alg": key.algorithm, "use": "sig"}  # type: ignore[arg-type]


def _algorithm_for(public_key: object) -> str:
    if isinstance(public_key, Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return "ES256"
    raise InvalidClientKey("only P-256 (ES256) and Ed25519 (EdDSA) public keys are accepted")


def _from_jwk(text: str) -> tuple[object, str | None, str | None]:
    try:
        members = json.loads(text)
    except ValueError:
        raise InvalidClientKey("the key is neither PEM nor a JSON Web Key") from None
    if not isinstance(members, dict):
        raise InvalidClientKey("a JSON Web Key must be a JSON object")
    if any(private in members for private in ("d", "p", "q", "k")):
        raise InvalidClientKey("that is private key material: register the public key only, and keep the private key secret")
    if members.get("kty") not in {"EC", "OKP"}:
        raise InvalidClientKey("only EC (P-256) and OKP (Ed25519) JSON Web Keys are accepted")
    try:
        # Without "alg" PyJWK picks the algorithm from kty/crv; a declared alg is compared below.
        public_key = jwt.PyJWK({k: v for k, v in members.items() if k != "alg"}).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        raise InvalidClientKey("the JSON Web Key could not be read") from None
    alg, kid = members.get("alg"), members.get("kid")
    return public_key, alg if isinstance(alg, str) else None, kid if isinstance(kid, str) else None


def parse_public_key(text: str) -> ParsedPublicKey:
    """Read a PEM SubjectPublicKeyInfo or a public JWK (RFC 7517)."""
    if len(text) > MAX_PUBLIC_KEY_TEXT:
        raise InvalidClientKey(f"the key text is longer than {MAX_PUBLIC_KEY_TEXT} characters")
    stripped = text.strip()
    if "PRIVATE KEY" in stripped:
        raise InvalidClientKey("that is a private key: register the public key only, and keep the private key secret")
    declared_alg = kid_hint = None
    if stripped.startswith("-----BEGIN"):
        try:
            public_key: object = load_pem_public_key(stripped.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
            raise InvalidClientKey("the PEM text is not a readable public key") from None
    else:
        public_key, declared_alg, kid_hint = _from_jwk(stripped)
    algorithm = _algorithm_for(public_key)
    if declared_alg is not None and declared_alg != algorithm:
        raise InvalidClientKey(f"the JWK says alg {declared_alg} but the key is for {algorithm}")
    spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
    return ParsedPublicKey(algorithm, spki, jwk_thumbprint(public_key), kid_hint)  # type: ignore[arg-type]


def check_kid(kid: str) -> str:
    if not _KID.fullmatch(kid):
        raise InvalidCode("a key id (kid) must be 1-64 letters, digits, '.', '_' or '-'")
    return kid


def key_state(key: ApiClientKey, *, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.not_after is not None:
        return "retired" if key.not_after <= now else "retiring"
    return "active"


# -- verification -----------------------------------------------------------


def accepted_audiences(registry_id: str) -> list[str]:
    """SPEC: RFC 7523 §3 item 3: the authorization server's issuer identifier
    or its token endpoint URL."""
    base = registry_id.rstrip("/")
    return [base, base + TOKEN_ENDPOINT_PATH]


def _unverified(assertion: str) -> tuple[dict, dict]:
    if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
        raise InvalidClientAssertion("malformed", f"the assertion must be 1-{MAX_ASSERTION_LENGTH} characters")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidClientAssertion("malformed", "not a compact JWS JWT") from None
    return header, claims


def _client_and_key(*, session: Session, header: dict, claims: dict, now: datetime) -> tuple[ApiClient, ApiClientKey]:
    # 2. iss = sub = client_id (RFC 7523 §3 items 1-2).
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or iss != sub or not 0 < len(iss) <= 64:
        raise InvalidClientAssertion("invalid_claims", "iss and sub must both be the client_id")
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == iss))
    if client is None or not client.active or client.auth_method != PRIVATE_KEY_JWT:
        raise InvalidClientAssertion("unknown_client", "no active private_key_jwt client with that id")
    # 3. kid selects one of the client's keys; revoked and retired keys are refused.
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise InvalidClientAssertion("unknown_key", "the header must name a registered key in kid")
    key = session.scalar(select(ApiClientKey).where(ApiClientKey.client_id == client.client_id, ApiClientKey.kid == kid))
    if key is None:
        raise InvalidClientAssertion("unknown_key", f"no key {kid} is registered for this client")
    state = key_state(key, now=now)
    if state in {"revoked", "retired"}:
        raise InvalidClientAssertion(state, f"key {kid} is {state}")
    # 4. The algorithm is the key's, never the token's choice (alg confusion).
    if header.get("alg") != key.algorithm:
        raise InvalidClientAssertion("algorithm_mismatch", f"key {kid} signs with {key.algorithm} only")
    return client, key


def _check_times(claims: dict, *, now: datetime) -> datetime:
    # 6. exp in the future but not far ahead; iat (and nbf) not in the future.
    try:
        exp = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
        iat = datetime.fromtimestamp(int(claims["iat"]), tz=now.tzinfo)
        nbf = datetime.fromtimestamp(int(claims["nbf"]), tz=now.tzinfo) if "nbf" in claims else None
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise InvalidClientAssertion("invalid_claims", "exp and iat must be NumericDate values") from None
    if exp <= now - CLOCK_SKEW:
        raise InvalidClientAssertion("expired", "the assertion has expired")
    if exp > now + MAX_LIFETIME + CLOCK_SKEW:
        raise InvalidClientAssertion("lifetime_too_long", f"exp may lie at most {int(MAX_LIFETIME.total_seconds())} s ahead")
    if iat > now + CLOCK_SKEW:
        raise InvalidClientAssertion("issued_in_future", "iat lies in the future")
    if nbf is not None and nbf > now + CLOCK_SKEW:
        raise InvalidClientAssertion("not_yet_valid", "nbf lies in the future")
    return exp


def _check_signature(assertion: str, *, key: ApiClientKey, audiences: list[str]) -> dict:
    # 5. Signature with the registered public key, and the audience.
    try:
        return jwt.decode(
            assertion,
            load_der_public_key(key.public_key),  # type: ignore[arg-type]
            algorithms=[key.algorithm],
            audience=audiences,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidAudienceError:
        raise InvalidClientAssertion("wrong_audience", f"aud must be one of: {', '.join(audiences)}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidClientAssertion("invalid_claims", f"missing claim {exc.claim}") from None
    except jwt.InvalidSignatureError:
        raise InvalidClientAssertion("signature_invalid", "the signature does not verify with the registered key") from None
    except jwt.PyJWTError:
        raise InvalidClientAssertion("signature_invalid", "the assertion does not verify") from None


def _operator(claims: dict) -> str | None:
    operator = claims.get("operator")
    if operator is None:
        return None
    if not isinstance(operator, str):
        raise InvalidClientAssertion("invalid_claims", "operator must be a string")
    try:
        return validate_operator_id(operator)
    except InvalidCode as exc:
        raise InvalidClientAssertion("invalid_claims", f"operator claim: {exc}") from None


def _jti(claims: dict) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidClientAssertion("invalid_claims", f"jti must be a string of 1-{MAX_JTI_LENGTH} characters")
    return jti


def _spend_jti(
    *, session: Session, cache: Cache, client_id: str, jti: str, expires_at: datetime, now: datetime
) -> None:
    """7. Single use: the cache refuses a repeat at once (every process sees
    Redis); the database row, under a unique constraint, still refuses it
    after a cache flush or across processes sharing no cache."""
    jti_hash = hashlib.sha256(jti.encode()).hexdigest()
    keep_for = (expires_at - now + CLOCK_SKEW).total_seconds()
    if not cache.set_if_absent(f"client-assertion:{client_id}:{jti_hash}", "1", ttl_seconds=max(keep_for, 1.0)):
        raise InvalidClientAssertion("replayed", "this jti was already used")
    session.execute(delete(ClientAssertionUse).where(ClientAssertionUse.expires_at < now - CLOCK_SKEW))
    try:
        with session.begin_nested():
            session.add(ClientAssertionUse(client_id=client_id, jti_hash=jti_hash, expires_at=expires_at + CLOCK_SKEW))
    except IntegrityError:
        raise InvalidClientAssertion("replayed", "this jti was already used") from None


def verify_client_assertion(
    *, session: Session, cache: Cache, assertion: str, assertion_type: str, registry_id: str,
    now: datetime | None = None,
) -> VerifiedAssertion:
    """Return the authenticated client, or raise InvalidClientAssertion."""
    now = now or utcnow()
    # 1. The type is the JWT bearer one; the JWT parses; the header is sane.
    if assertion_type != ASSERTION_TYPE:
        raise InvalidClientAssertion("unsupported_assertion_type", f"client_assertion_type must be {ASSERTION_TYPE}")
    header, unverified_claims = _unverified(assertion)
    if header.get("alg") not in SUPPORTED_ALGORITHMS:
        raise InvalidClientAssertion("algorithm_refused", f"alg must be one of {', '.join(SUPPORTED_ALGORITHMS)}")
    if "crit" in header:
        raise InvalidClientAssertion("malformed", "no critical header extension is understood")  # SPEC: RFC 7515 §4.1.11
    client, key = _client_and_key(session=session, header=header, claims=unverified_claims, now=now)
    claims = _check_signature(assertion, key=key, audiences=accepted_audiences(registry_id))
    expires_at = _check_times(claims, now=now)
    jti = _jti(claims)
    operator = _operator(claims)
    _spend_jti(session=session, cache=cache, client_id=client.client_id, jti=jti, expires_at=expires_at, now=now)
    client.last_used_at = key.last_used_at = now
    return VerifiedAssertion(client=client, key=key, jti=jti, expires_at=expires_at, operator=operator)


# -- the operator of a request ----------------------------------------------


def operator_of(*, principal: Principal, operator_id: str | None) -> str:
    """The person behind a department call (docs/clients.md, "Operator").

    A token obtained with a private_key_jwt assertion that named an operator
    carries it: the department's own system vouched for the person with its
    signature. The X-Operator-Id header may then be omitted and, if sent,
    must name the same person. Without an operator in the token the header
    is required, as it always was.
    """
    header = validate_operator_id(operator_id) if operator_id is not None else None
    if principal.operator is None:
        if header is None:
            raise InvalidCode(f"the {OPERATOR_HEADER} header must name the person making this request")
        return header
    if header is not None and header != principal.operator:
        raise Forbidden(f"the {OPERATOR_HEADER} header names another operator than the access token")
    return principal.operator


def vouched_operator(*, principal: Principal, named: str | None, where: str = OPERATOR_HEADER) -> str | None:
    """The operator of a call whose request may name one (a body field, a
    header): the one the token vouches for (a staff session's person, a
    private_key_jwt assertion's operator) wins, and a request naming another
    is refused rather than recorded; without one in the token, the one named.

    Refused, not ignored: a page or system that believes someone else is at
    the keyboard is mistaken or misattributing, and recording either person
    silently would make the use log say something nobody checked."""
    if principal.operator is None:
        return named
    if named is not None and named != principal.operator:
        raise Forbidden(f"{where} names another operator than the one signed into the token")
    return principal.operator
