"""Offline verification of QR codes: EL1 (ours) and HC1 (EU DCC).

`verify_qr` takes the QR text (or a PNG/JPEG of it), the trust lists a
verifier holds, optional status lists and a clock, and returns a `QrResult`
or raises `QrVerificationError` whose code names the failed step. The steps
run in the order below; nothing in the payload is trusted before step 6.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from signing.encoding import b64url_encode, ensure_utc
from signing.errors import InvalidInput
from signing.qr import claims as c
from signing.qr.claims import LicenceSummary, PresentationClaim
from signing.qr.container import DEFAULT_MAX_INFLATED, HC1_PREFIX, inflate, split_prefix, unbase45
from signing.qr.cose import Sign1, algorithm_for, decode_sign1, strict_loads, verify_with, verify_x509_key
from signing.qr.errors import QrVerificationError
from signing.qr.hcert import DccSigner, DccTrustList
from signing.qr.image import decode_qr_image, looks_like_image
from signing.qr.result import QrResult
from signing.statuses import KeyPurpose
from signing.statuslist import StatusListToken, TokenStatus
from signing.truststore import ResolvedKey, TrustStore, refuse_key_at, refuse_seal_key_at

DEFAULT_SKEW = timedelta(seconds=30)
_MAX_SKEW = timedelta(hours=1)
_STATUS_NAMES: dict[int, str] = {TokenStatus.VALID: "valid", TokenStatus.INVALID: "revoked", TokenStatus.SUSPENDED: "suspended"}


def _fail(code: Any, message: str) -> QrVerificationError:
    return QrVerificationError(code, message)


def verify_qr(
    data: str | bytes,
    *,
    trust_store: TrustStore,
    now: datetime,
    skew: timedelta = DEFAULT_SKEW,
    status_lists: Mapping[str, StatusListToken] | None = None,
    max_status_age: timedelta | None = None,
    max_inflated: int = DEFAULT_MAX_INFLATED,
    dcc_trust: DccTrustList | None = None,
) -> QrResult:
    """Verify one QR code offline.

    `status_lists` maps a status list URI (the token's subject) to a token the
    caller verified with `verify_status_list_token`. Status is checked when
    `status_lists` or `max_status_age` is given (a licence QR whose list is
    missing then fails with `status_unavailable`); otherwise the result's
    status is None ("not checked"). EU DCC codes are checked against
    `dcc_trust` only.
    """
    moment = ensure_utc(now)
    _check_skew(skew)
    if type(max_inflated) is not int or not 0 < max_inflated <= 1 << 24:
        raise InvalidInput("max_inflated must be a positive bound of at most 16 MiB")
    text = _text(data)  # 0. an image is read first (image_invalid)
    prefix, body = split_prefix(text)  # 1. payload_too_large, prefix_invalid
    compressed = unbase45(body)  # 2. base45_invalid
    cose = inflate(compressed, max_inflated=max_inflated)  # 3. zlib_invalid, payload_too_large
    if prefix == HC1_PREFIX:
        return verify_hcert_cose(cose, dcc_trust=dcc_trust, now=moment, skew=skew)
    return _verify_el1(cose, trust_store=trust_store, now=moment, skew=skew, status_lists=status_lists,
                       max_status_age=max_status_age)


def verify_el1_cose(
    cose: bytes,
    *,
    trust_store: TrustStore,
    now: datetime,
    skew: timedelta = DEFAULT_SKEW,
    status_lists: Mapping[str, StatusListToken] | None = None,
    max_status_age: timedelta | None = None,
) -> QrResult:
    """Steps 4-11 of `verify_qr` for the COSE_Sign1 inside an EL1 code."""
    _check_skew(skew)
    return _verify_el1(cose, trust_store=trust_store, now=ensure_utc(now), skew=skew, status_lists=status_lists,
                       max_status_age=max_status_age)


def _verify_el1(
    cose: bytes, *, trust_store: TrustStore, now: datetime, skew: timedelta,
    status_lists: Mapping[str, StatusListToken] | None, max_status_age: timedelta | None,
) -> QrResult:
    sign1 = decode_sign1(cose)  # 4. cose_invalid
    alg, kid = sign1.alg, sign1.kid()
    if alg is None or algorithm_for(alg) is None:
        raise _fail("cose_invalid", "the protected header names no algorithm we verify (ES256, EdDSA, SM2)")
    if kid is None:
        raise _fail("cose_invalid", "the protected header carries no kid")
    kid_text = b64url_encode(kid)
    resolved = _verified_key(sign1, alg=alg, kid_text=kid_text, trust_store=trust_store)  # 5-6.
    claims = _claims(sign1.payload)  # 7. claims_invalid
    issuer, issued_at, expires_at = _times(claims, now=now, skew=skew, require_iss=True)  # 8.
    licence, presentation = claims.get(c.CLAIM_LICENCE), claims.get(c.CLAIM_PRESENTATION)
    if licence is not None and presentation is None:
        summary = _summary(licence)
        _check_seal_key(resolved, issuer=issuer, issued_at=issued_at, summary=summary)  # 9-10.
        status, age = _status(summary, now=now, status_lists=status_lists, max_status_age=max_status_age)  # 11.
        return QrResult("licence", issuer, kid_text, issued_at, expires_at, _cti_text(claims), summary,
                        None, claims, resolved.key, status, age)
    if presentation is not None and licence is None:
        shown = _presentation(claims)
        _check_presentation_key(resolved, issuer=issuer, issued_at=issued_at)  # 9.
        return QrResult("presentation", issuer, kid_text, issued_at, expires_at,
                        shown.presentation_id, None, shown, claims, resolved.key, None, None)
    raise _fail("claims_invalid", "the code carries neither a licence nor a presentation claim (or both)")


def _check_skew(skew: timedelta) -> None:
    if not isinstance(skew, timedelta) or not timedelta(0) <= skew <= _MAX_SKEW:
        raise InvalidInput(f"skew must be between 0 and {_MAX_SKEW}")


def _text(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput("verify_qr takes QR text or image bytes")
    raw = bytes(data)
    if looks_like_image(raw):
        return decode_qr_image(raw)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise _fail("prefix_invalid", "the bytes are neither an image nor QR text") from None


def _verified_key(sign1: Sign1, *, alg: int, kid_text: str, trust_store: TrustStore) -> ResolvedKey:
    # 5. Every key carrying the kid, in every trust list held: 8-byte kids may collide.
    candidates = trust_store.resolve_kid(kid_text)
    if not candidates:
        raise _fail("unknown_key", f"no trusted key has kid {kid_text}")
    # 6. The signature over Sig_structure must verify with one of them (and the key's algorithm must match alg).
    signed = sign1.signed_data()
    for resolved in candidates:
        if verify_with(resolved.key.public_key, alg, signed, sign1.signature):
            return resolved
    raise _fail("signature_invalid", "the signature does not verify with any trusted key of that kid")


def _claims(payload: bytes) -> dict[Any, Any]:
    try:
        claims = strict_loads(payload)
    except (ValueError, TypeError, LookupError, OverflowError, RecursionError, EOFError):
        raise _fail("claims_invalid", "the payload is not one CBOR item") from None
    if not isinstance(claims, dict):
        raise _fail("claims_invalid", "the payload is not a CWT claims map")
    return claims


@overload
def _times(claims: Mapping[Any, Any], *, now: datetime, skew: timedelta,
           require_iss: Literal[True]) -> tuple[str, datetime, datetime | None]: ...
@overload
def _times(claims: Mapping[Any, Any], *, now: datetime, skew: timedelta,
           require_iss: bool) -> tuple[str | None, datetime | None, datetime | None]: ...
def _times(claims: Mapping[Any, Any], *, now: datetime, skew: timedelta,
           require_iss: bool) -> tuple[str | None, datetime | None, datetime | None]:
    """iss, iat and exp; with ``require_iss`` both iss and iat are present or it raises."""
    issuer = claims.get(c.CLAIM_ISS)
    if (require_iss or issuer is not None) and (not isinstance(issuer, str) or not 0 < len(issuer) <= 200):
        raise _fail("claims_invalid", "iss must be text")
    try:
        issued_at = c.from_epoch(claims[c.CLAIM_IAT], "iat") if c.CLAIM_IAT in claims else None
        expires_at = c.from_epoch(claims[c.CLAIM_EXP], "exp") if c.CLAIM_EXP in claims else None
    except InvalidInput as error:
        raise _fail("claims_invalid", str(error)) from None
    if require_iss and issued_at is None:
        raise _fail("claims_invalid", "iat is required")
    # 8. SPEC: RFC 8392 §3.1.4 — not valid at or after exp; the skew absorbs clock drift both ways.
    # now - skew and iat - skew, never + skew: times at the end of year 9999 must not overflow.
    if expires_at is not None and now - skew >= expires_at:
        raise _fail("expired", f"the code expired at {expires_at.isoformat()}")
    if issued_at is not None and issued_at - skew > now:
        raise _fail("not_yet_valid", f"the code was issued in the future ({issued_at.isoformat()})")
    return issuer, issued_at, expires_at


def _cti_text(claims: Mapping[Any, Any]) -> str | None:
    cti = claims.get(c.CLAIM_CTI)
    if cti is None:
        return None
    if not isinstance(cti, bytes) or not 0 < len(cti) <= 64:
        raise _fail("claims_invalid", "cti must be 1 to 64 bytes")
    return cti.hex()


def _summary(value: Any) -> LicenceSummary:
    try:
        return LicenceSummary.from_claim(value)
    except InvalidInput as error:
        raise _fail("claims_invalid", f"licence claim: {error}") from None


def _presentation(claims: Mapping[Any, Any]) -> PresentationClaim:
    cti = claims.get(c.CLAIM_CTI)
    if not isinstance(cti, bytes) or c.CLAIM_EXP not in claims:
        raise _fail("claims_invalid", "a presentation needs a cti (its id) and an exp")
    try:
        return PresentationClaim.from_claim(claims[c.CLAIM_PRESENTATION], presentation_id=cti.decode("ascii"))
    except (InvalidInput, UnicodeDecodeError) as error:
        raise _fail("claims_invalid", f"presentation claim: {error}") from None


def _check_seal_key(resolved: ResolvedKey, *, issuer: str, issued_at: datetime, summary: LicenceSummary) -> None:
    """9. The key belongs to the issuing registry, is the issuer's seal key and was usable when the
    code was made; 10. the seal's trust entry lists the licence type."""
    refusal = refuse_seal_key_at(resolved, issuer=issuer, at=issued_at, issuer_code=summary.issuer_code,
                                 type_code=summary.type_code)
    if refusal is not None:
        raise _fail(refusal.code, refusal.message)


def _check_presentation_key(resolved: ResolvedKey, *, issuer: str, issued_at: datetime) -> None:
    refusal = refuse_key_at(resolved, issuer=issuer, at=issued_at, purpose=KeyPurpose.PRESENTATION)
    if refusal is not None:
        raise _fail(refusal.code, refusal.message)


def _status(
    summary: LicenceSummary, *, now: datetime, status_lists: Mapping[str, StatusListToken] | None,
    max_status_age: timedelta | None,
) -> tuple[str | None, timedelta | None]:
    """11. The licence's entry in its status list (SPEC: draft-ietf-oauth-status-list-05 §7.1).

    A list must be present before anything can be read from it, so
    `status_unavailable` comes first; a revoked or suspended entry fails even
    from an old list (revocation is final), and `status_stale` refuses a
    "valid" read from a list older than `max_status_age`.
    """
    if status_lists is None and max_status_age is None:
        return None, None
    token = (status_lists or {}).get(summary.status_uri)
    if token is None:
        raise _fail("status_unavailable", f"no status list {summary.status_uri} was given")
    if token.subject != summary.status_uri:
        raise _fail("status_unavailable", f"the list given for {summary.status_uri} is for {token.subject}")
    if summary.status_idx >= token.status_list.size:
        raise _fail("status_unavailable", f"index {summary.status_idx} is outside the list")
    name = _STATUS_NAMES.get(token.status(summary.status_idx))
    if name is None:  # 0x03 and up are application-specific: not understood, so fail closed
        raise _fail("status_unavailable", f"status value {token.status(summary.status_idx)} is not understood")
    if name == "revoked":
        raise _fail("revoked", f"licence {summary.identifier} is revoked")
    if name == "suspended":
        raise _fail("suspended", f"licence {summary.identifier} is suspended")
    age = now - token.issued_at
    if max_status_age is not None and age > max_status_age:
        raise _fail("status_stale", f"the status list is {age} old, over {max_status_age}")
    return name, age


def verify_hcert_cose(cose: bytes, *, dcc_trust: DccTrustList | None, now: datetime,
                      skew: timedelta = DEFAULT_SKEW) -> QrResult:
    """Steps 4-8 for an EU DCC (hcert spec 1.0.8 §3): structure, kid, signature, claims, times."""
    now = ensure_utc(now)
    _check_skew(skew)
    kid, signer, claims = read_hcert_cose(cose, dcc_trust=dcc_trust)  # 4-7.
    issuer, issued_at, expires_at = _times(claims, now=now, skew=skew, require_iss=False)  # 8.
    return QrResult("hcert", issuer, b64url_encode(kid), issued_at, expires_at, _cti_text_loose(claims), None, None,
                    claims, signer, None, None)


def read_hcert_cose(cose: bytes, *, dcc_trust: DccTrustList | None) -> tuple[bytes, DccSigner, dict[Any, Any]]:
    """Steps 4-7 for an EU DCC: (kid, the signer that verified, the claims); no clock involved."""
    sign1 = decode_sign1(cose, require_tag=False)  # 4.
    alg, kid = sign1.alg, sign1.kid(allow_unprotected=True)
    if alg is None:
        alg = sign1.unprotected.get(1) if type(sign1.unprotected.get(1)) is int else None
    if alg is None or kid is None:
        raise _fail("cose_invalid", "the COSE headers name no algorithm or no kid")
    signers = dcc_trust.signers_for(kid) if dcc_trust is not None else ()
    if not signers:  # 5.
        raise _fail("unknown_key", f"no trusted DCC signer has kid {b64url_encode(kid)}")
    signed = sign1.signed_data()
    signer = next((s for s in signers if verify_x509_key(s.public_key, alg, signed, sign1.signature)), None)
    if signer is None:  # 6.
        raise _fail("signature_invalid", "the signature does not verify with the DCC signer certificate")
    claims = _claims(sign1.payload)  # 7.
    hcert = claims.get(c.CLAIM_HCERT)
    if not isinstance(hcert, dict) or not isinstance(hcert.get(1), dict):
        raise _fail("claims_invalid", "claim -260 (hcert) with the certificate under key 1 is required")
    return kid, signer, claims


def _cti_text_loose(claims: Mapping[Any, Any]) -> str | None:
    cti = claims.get(c.CLAIM_CTI)
    return cti.hex() if isinstance(cti, bytes) else None
