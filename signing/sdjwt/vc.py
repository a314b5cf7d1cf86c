"""SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-14): a licence as an SD-JWT verifiable credential.

What certhub puts in the issuer-signed JWT (docs/sd-jwt-vc.md):

- header `typ: dc+sd-jwt`, `alg: ES256`, `kid` — the issuing seal's key, as
  the registry's signed trust list names it;
- `iss` — the registry id (its https base URL), under whose trust list the key is found;
- `vct` — `<registry id>/vct/<licence type code>`, which resolves to the type's metadata;
- `iat`, and `nbf`/`exp` from the licence's validity;
- `status: {status_list: {idx, uri}}` — the licence's Token Status List entry;
- `cnf: {jwk}` — the holder's key, when the wallet supplied one;
- everything about the licence and its holder as selectively disclosable claims.

Offline verification (`verify_sd_jwt_vc`) needs the trust lists a verifier
holds and the status list tokens (given, or fetched by a callable), nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from signing.algorithms import Algorithm, PrivateKey
from signing.encoding import ensure_utc
from signing.errors import InvalidInput, VerificationError
from signing.jwk import canonical_public_jwk
from signing.sdjwt.core import (
    DEFAULT_KB_MAX_AGE,
    DEFAULT_SKEW,
    KeyBindingCheck,
    SdJwt,
    VerifiedSdJwt,
    issue_sd_jwt,
    verify_sd_jwt,
)
from signing.sdjwt.errors import SdJwtVerificationError
from signing.statuslist import StatusListToken, TokenStatus, verify_trusted_status_list_token
from signing.truststore import ResolvedKey, TrustStore, refuse_seal_key_at

VC_TYPE = "dc+sd-jwt"  # SPEC: draft-ietf-oauth-sd-jwt-vc-14, "JOSE Header" (typ)
VCT_PATH = "/vct/"
# Claims the issuer keeps in the clear: the ones a verifier needs before anything is disclosed.
VISIBLE_CLAIMS = frozenset({"iss", "iat", "nbf", "exp", "vct", "status", "cnf"})
_TYPE_CODE = re.compile(r"[0-9A-Za-z_.-]{1,64}")
_MAX_INDEX = 1 << 24
_STATUS_NAMES: dict[int, str] = {TokenStatus.VALID: "valid", TokenStatus.INVALID: "revoked", TokenStatus.SUSPENDED: "suspended"}


def _fail(code: Any, message: str) -> SdJwtVerificationError:
    return SdJwtVerificationError(code, message)


def vct_for(*, registry_id: str, type_code: str) -> str:
    """The credential type of a licence type: an https URL under the registry that serves its metadata.

    SPEC: draft-ietf-oauth-sd-jwt-vc-14, "Verifiable Digital Credential Type - vct Claim" and
    "Type Metadata" (retrieved from the vct URL)."""
    if not _TYPE_CODE.fullmatch(type_code or ""):
        raise InvalidInput(f"licence type code {type_code!r} cannot be part of a vct")
    return f"{registry_id.rstrip('/')}{VCT_PATH}{type_code}"


def issue_sd_jwt_vc(
    *,
    key: PrivateKey,
    registry_id: str,
    type_code: str,
    disclosable: Mapping[str, Any],
    issued_at: datetime,
    status_index: int,
    status_uri: str,
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    decoys: int | None = None,
) -> SdJwt:
    """Sign one SD-JWT VC with a seal's ES256 key (no policy checks: the registry's service decides).

    SM2 is refused: JOSE registers no SM2 algorithm (RFC 7518, IANA "JSON Web
    Signature and Encryption Algorithms"), so no SD-JWT VC verifier could check it.
    """
    if key.algorithm != Algorithm.ES256:
        raise InvalidInput(f"SD-JWT VCs are signed with ES256; a {key.algorithm} key has no JOSE algorithm")
    reserved = VISIBLE_CLAIMS & set(disclosable)
    if reserved:
        raise InvalidInput(f"{sorted(reserved)} are claims the issuer sets in the clear")
    if type(status_index) is not int or not 0 <= status_index < _MAX_INDEX:
        raise InvalidInput("status index out of range")
    claims: dict[str, Any] = {
        "iss": registry_id,
        "vct": vct_for(registry_id=registry_id, type_code=type_code),
        "iat": int(ensure_utc(issued_at).timestamp()),
        # SPEC: draft-ietf-oauth-sd-jwt-vc-14, "Registered JWT Claims" (status), with
        # draft-ietf-oauth-status-list, "Referenced Token" (the status_list reference).
        "status": {"status_list": {"idx": status_index, "uri": status_uri}},
    }
    if valid_from is not None:
        claims["nbf"] = int(ensure_utc(valid_from).timestamp())
    if expires_at is not None:
        claims["exp"] = int(ensure_utc(expires_at).timestamp())
    if holder_jwk is not None:
        claims["cnf"] = {"jwk": canonical_public_jwk(holder_jwk)}  # SPEC: RFC 7800 §3.2; RFC 9901 §4.1.2
    return issue_sd_jwt(claims=claims, disclosable=disclosable, key=key, header={"typ": VC_TYPE, "kid": key.kid},
                        decoys=decoys)


@dataclass(frozen=True)
class CredentialIssuer:
    """Who vouches for a verified credential: the registry, the seal's owning department, the seal and key."""

    registry_id: str
    department_code: str
    es_id: str
    kid: str


@dataclass(frozen=True)
class VerifiedCredential:
    vct: str
    type_code: str
    issuer: CredentialIssuer
    issued_at: datetime
    valid_from: datetime | None
    expires_at: datetime | None
    disclosed: dict[str, Any]  # exactly the selectively disclosable claims the holder revealed
    claims: dict[str, Any]  # every claim after processing (the clear ones and the disclosed ones)
    status: str | None  # "valid", or None when the caller chose not to check status
    key_bound_at: datetime | None  # the KB-JWT's iat when holder binding was checked

    @property
    def holder_jwk(self) -> dict[str, Any] | None:
        cnf = self.claims.get("cnf")
        return cnf.get("jwk") if isinstance(cnf, dict) else None


StatusFetcher = Callable[[str], str]


def verify_sd_jwt_vc(
    token: object,
    *,
    trust_store: TrustStore,
    now: datetime,
    status_lists: Mapping[str, StatusListToken] | None = None,
    fetch_status_list: StatusFetcher | None = None,
    check_status: bool = True,
    expected_nonce: str | None = None,
    expected_aud: str | None = None,
    key_binding_max_age: timedelta = DEFAULT_KB_MAX_AGE,
    skew: timedelta = DEFAULT_SKEW,
) -> VerifiedCredential:
    """Verify a certhub SD-JWT VC presentation offline; SdJwtVerificationError names the failed step.

    SPEC: draft-ietf-oauth-sd-jwt-vc-14, "Verification and Processing", on top of RFC 9901 §7.

    1-5. The SD-JWT (signing/sdjwt/core.py): typ dc+sd-jwt, the issuer's key
         found by `kid` in the trust list of the registry named by `iss`, signature,
         disclosures.
    6. With `expected_nonce` and `expected_aud` (both or neither): the
       key-binding JWT, signed by `cnf.jwk`, fresh within `key_binding_max_age`.
    7. `vct` is one of the issuing registry's types; iat, nbf, exp well formed.
    8. The key was a seal key of the issuing department at iat, the seal
       unrevoked, unsuspended, within validity and listing the licence type.
    9. Times: not before nbf or iat (beyond `skew`), not at or after exp.
    10. Status (unless `check_status` is False): the Token Status List token for
        `status.status_list.uri` — from `status_lists` (tokens the caller verified)
        or `fetch_status_list(uri)` (token text, verified here against the trust
        store) — says valid.
    """
    moment = ensure_utc(now)
    if (expected_nonce is None) != (expected_aud is None):
        raise InvalidInput("give both expected_nonce and expected_aud, or neither")
    binding = None if expected_nonce is None else KeyBindingCheck(
        nonce=expected_nonce, audience=expected_aud or "", max_age=key_binding_max_age, skew=skew)
    resolved: list[ResolvedKey] = []

    def resolve(header: dict[str, Any], claims: dict[str, Any]) -> list:
        kid, iss = header.get("kid"), claims.get("iss")
        if not isinstance(kid, str) or not isinstance(iss, str):
            return []
        resolved.extend(r for r in trust_store.resolve_kid(kid, registry_id=iss) if r.key.algorithm == Algorithm.ES256)
        return [r.key.public_key for r in resolved]

    verified = verify_sd_jwt(token, typ=VC_TYPE, resolve_keys=resolve, key_binding=binding, now=moment)  # 1-6.
    claims = verified.claims
    issuer_id = claims["iss"]
    type_code = _type_code(claims.get("vct"), issuer_id=issuer_id)  # 7.
    issued_at = _issued_at(claims)
    valid_from, expires_at = _time(claims, "nbf"), _time(claims, "exp")
    issuer = _check_issuing_key(verified, resolved, issuer_id=issuer_id, type_code=type_code, at=issued_at)  # 8.
    if issued_at > moment + skew or (valid_from is not None and valid_from > moment + skew):  # 9.
        raise _fail("not_yet_valid", "the credential is not valid yet")
    if expires_at is not None and moment >= expires_at:
        raise _fail("expired", f"the credential expired at {expires_at.isoformat()}")
    status = _status(claims.get("status"), issuer_id=issuer_id, trust_store=trust_store, now=moment,  # 10.
                     status_lists=status_lists, fetch=fetch_status_list) if check_status else None
    return VerifiedCredential(
        vct=claims["vct"], type_code=type_code, issuer=issuer, issued_at=issued_at, valid_from=valid_from,
        expires_at=expires_at, disclosed=verified.disclosed, claims=claims, status=status,
        key_bound_at=verified.key_bound_at,
    )


def _type_code(vct: object, *, issuer_id: str) -> str:
    prefix = issuer_id.rstrip("/") + VCT_PATH
    if not isinstance(vct, str) or not vct.startswith(prefix) or not _TYPE_CODE.fullmatch(vct[len(prefix):]):
        raise _fail("malformed", f"vct {vct!r} is not a licence type of {issuer_id}")
    return vct[len(prefix):]


def _issued_at(claims: Mapping[str, Any]) -> datetime:
    # SPEC: draft-ietf-oauth-sd-jwt-vc-14, "Registered JWT Claims", leaves iat optional; certhub's key checks need it.
    if claims.get("iat") is None:
        raise _fail("malformed", "iat is required: the key is checked as of the moment it signed")
    return _time(claims, "iat") or datetime.fromtimestamp(0, UTC)


def _time(claims: Mapping[str, Any], name: str) -> datetime | None:
    """SPEC: RFC 7519 §2 NumericDate, whole seconds."""
    value = claims.get(name)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value < 1 << 40:
        raise _fail("malformed", f"{name} must be a whole number of seconds since the epoch")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise _fail("malformed", f"{name} is out of range") from None


def _check_issuing_key(
    verified: VerifiedSdJwt, resolved: list[ResolvedKey], *, issuer_id: str, type_code: str, at: datetime
) -> CredentialIssuer:
    """8. Among the keys carrying the kid, the one that verified must vouch for this licence type at iat."""
    refusals = []
    for candidate in (r for r in resolved if r.key.public_key == verified.issuer_key):
        seal = candidate.trust_list.seal(candidate.key.es_id) if candidate.key.es_id else None
        owner = seal.owner if seal is not None else ""
        # A disclosed issuer code must be the seal owner's; undisclosed, the seal owner is the issuer.
        issuer_code = verified.claims.get("issuer_code", owner)
        refusal = refuse_seal_key_at(candidate, issuer=issuer_id, at=at, issuer_code=issuer_code, type_code=type_code)
        if refusal is None and candidate.key.es_id is not None:
            return CredentialIssuer(registry_id=issuer_id, department_code=owner, es_id=candidate.key.es_id,
                                    kid=candidate.key.kid)
        if refusal is not None:
            refusals.append(refusal)
    first = refusals[0] if refusals else None
    raise _fail(first.code if first else "key_not_valid", first.message if first else "the key vouches for no seal")


def _status(
    value: object, *, issuer_id: str, trust_store: TrustStore, now: datetime,
    status_lists: Mapping[str, StatusListToken] | None, fetch: StatusFetcher | None,
) -> str:
    """SPEC: draft-ietf-oauth-status-list §8.2-8.3 — read the credential's entry; only 0 (valid) passes."""
    reference = value.get("status_list") if isinstance(value, dict) else None
    index = reference.get("idx") if isinstance(reference, dict) else None
    uri = reference.get("uri") if isinstance(reference, dict) else None
    if type(index) is not int or not 0 <= index < _MAX_INDEX or not isinstance(uri, str):
        raise _fail("malformed", "status.status_list needs idx and uri")
    if not uri.startswith(issuer_id.rstrip("/") + "/"):
        raise _fail("status_list_untrusted", f"status list {uri} is not published by the issuer {issuer_id}")
    token = (status_lists or {}).get(uri)
    if token is None and fetch is not None:
        token = _fetched(uri, fetch=fetch, trust_store=trust_store, now=now)
    if token is None:
        raise _fail("status_unavailable", f"no status list {uri} was given")
    if token.subject != uri or index >= token.status_list.size:
        raise _fail("status_unavailable", f"the list given for {uri} does not hold index {index}")
    name = _STATUS_NAMES.get(token.status(index))
    if name is None:  # 0x03 and up are application-specific: not understood, so fail closed
        raise _fail("status_unavailable", f"status value {token.status(index)} is not understood")
    if name != "valid":
        raise _fail(name, f"the licence is {name}")
    return name


def _fetched(uri: str, *, fetch: StatusFetcher, trust_store: TrustStore, now: datetime) -> StatusListToken:
    try:
        text = fetch(uri)
    except VerificationError:
        raise
    except Exception as error:  # the fetcher is the caller's: any failure there means no status
        raise _fail("status_unavailable", f"status list {uri} could not be fetched: {type(error).__name__}") from None
    try:
        return verify_trusted_status_list_token(text, trust_store=trust_store, subject=uri, now=now)
    except VerificationError as error:
        code = "status_list_untrusted" if error.code in ("status_list_untrusted", "signature_invalid") else "status_unavailable"
        raise _fail(code, f"status list {uri}: {error}") from None
