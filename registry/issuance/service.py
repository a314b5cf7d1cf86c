"""The pre-authorized code flow of OpenID4VCI 1.0, on the registry's SD-JWT VC.

A signed-in holder asks for an offer of one of their licences; the offer
carries a pre-authorized code (single use, short-lived, optionally guarded by
a transaction code the holder sees beside the QR). The wallet trades it for an
access token bound to that holder and licence, fetches a nonce, and proves
possession of its key; the credential it gets is the licence's current version
bound to that key (registry/service/credentials.py, the one SD-JWT VC path).

Codes, tokens, nonces and deferred transactions live in the cache with their
lifetime as TTL: nothing here outlives a few minutes, and a cache restart only
asks the holder to scan a new offer. Single use is a `set_if_absent` claim on
a "used" key, atomic in Redis and in the in-process cache alike.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from identity.api import PreAuthorizedCodeGrant
from identity.errors import TokenRequestRefused
from identity.holder_auth import HolderPrincipal
from registry.errors import CredentialRequestRefused
from registry.identifiers import LicenceIdentifier
from registry.models import CHINA_TIME, LicenceStatus
from registry.service import credentials, reads
from signing.errors import InvalidInput, VerificationError
from signing.jwk import canonical_public_jwk, public_key_from_jwk
from signing.jws import parse_compact
from signing.sdjwt import VC_TYPE
from storage.cache import Cache

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYPE = "openid4vci-proof+jwt"
OFFER_SCHEME = "openid-credential-offer://"
CODE_TTL_SECONDS = 300
TOKEN_TTL_SECONDS = 600
NONCE_TTL_SECONDS = 300
DEFERRED_TTL_SECONDS = 86_400
DEFERRED_INTERVAL_SECONDS = 60
TX_CODE_DIGITS = 6
MAX_PROOF_CHARS = 4096
MAX_OPAQUE_CHARS = 128  # codes, tokens, nonces, transaction ids we made: 43 characters
# SPEC: OpenID4VCI 1.0 Appendix F.1 — the proof's iat must be recent; a clock a little ahead is forgiven.
PROOF_MAX_AGE_SECONDS = 300
PROOF_SKEW_SECONDS = 60
_PREFIX = "oid4vci:"


def configuration_id(type_code: str) -> str:
    """The credential configuration of a licence type (one per type)."""
    return f"{type_code}_{VC_TYPE.replace('+', '_').replace('-', '_')}"


@dataclass(frozen=True)
class Grant:
    """What a pre-authorized code, and the access token traded for it, entitle: one licence of one holder."""

    holder_code: str
    holder_code_type: str
    holder_name: str
    identifier: str
    tx_code: str | None = None

    def holder(self) -> HolderPrincipal:
        return HolderPrincipal(holder_code=self.holder_code, holder_code_type=self.holder_code_type,
                               name=self.holder_name, auth_method="oid4vci", session_id="oid4vci")

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Grant:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Offer:
    pre_authorized_code: str
    tx_code: str | None
    offer: dict[str, Any]

    def uri(self) -> str:
        """SPEC: OpenID4VCI 1.0 §4.1 — the offer by value in the `credential_offer` parameter."""
        text = json.dumps(self.offer, separators=(",", ":"), ensure_ascii=False)
        return f"{OFFER_SCHEME}?credential_offer={quote(text, safe='')}"


def _opaque() -> str:
    return secrets.token_urlsafe(32)


def _bounded(value: object, what: str, error: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_OPAQUE_CHARS:
        raise CredentialRequestRefused(error, f"{what} is missing or too long")
    return value


def create_offer(*, session: Session, cache: Cache, holder: HolderPrincipal, identifier: str, issuer: str,
                 with_tx_code: bool) -> Offer:
    """An offer of one of the holder's own licences (anyone else's is "not found")."""
    view = reads.get_for_holder(session=session, identifier=identifier, holder=holder)
    tx_code = "".join(secrets.choice("0123456789") for _ in range(TX_CODE_DIGITS)) if with_tx_code else None
    grant = Grant(holder_code=holder.holder_code, holder_code_type=holder.holder_code_type, holder_name=holder.name,
                  identifier=view.version.identifier, tx_code=tx_code)
    code = _opaque()
    cache.set_if_absent(f"{_PREFIX}code:{code}", grant.to_json(), ttl_seconds=CODE_TTL_SECONDS)
    pre_authorized: dict[str, Any] = {"pre-authorized_code": code}
    if tx_code is not None:  # SPEC: OpenID4VCI 1.0 §4.1.1 tx_code object
        pre_authorized["tx_code"] = {"input_mode": "numeric", "length": TX_CODE_DIGITS,
                                     "description": "证照钱包页面上显示的数字 / the digits shown on the wallet page"}
    offer = {"credential_issuer": issuer, "credential_configuration_ids": [configuration_id(view.licence.type_code)],
             "grants": {PRE_AUTHORIZED_GRANT: pre_authorized}}
    return Offer(pre_authorized_code=code, tx_code=tx_code, offer=offer)


def redeem_code(*, cache: Cache, code: object, tx_code: object) -> tuple[str, Grant]:
    """An access token for a pre-authorized code, used once. SPEC: OpenID4VCI 1.0 §6.1, §6.3."""
    code = _bounded(code, "pre-authorized_code", "invalid_request")
    stored = cache.get(f"{_PREFIX}code:{code}")
    if stored is None:
        raise CredentialRequestRefused("invalid_grant", "the pre-authorized code is unknown or expired")
    grant = Grant.from_json(stored)
    # Claimed before the tx_code is compared: a wrong guess uses the code up, so it cannot be guessed at.
    if not cache.set_if_absent(f"{_PREFIX}used:{code}", "1", ttl_seconds=CODE_TTL_SECONDS):
        raise CredentialRequestRefused("invalid_grant", "the pre-authorized code was used already")
    cache.delete(f"{_PREFIX}code:{code}")
    if grant.tx_code is not None and not (isinstance(tx_code, str)
                                          and secrets.compare_digest(tx_code.encode(), grant.tx_code.encode())):
        raise CredentialRequestRefused("invalid_grant", "the transaction code is wrong; ask for a new offer")
    token = _opaque()
    cache.set_if_absent(f"{_PREFIX}token:{token}", grant.to_json(), ttl_seconds=TOKEN_TTL_SECONDS)
    return token, grant


def grant_of_token(*, cache: Cache, token: str) -> Grant:
    stored = cache.get(f"{_PREFIX}token:{_bounded(token, 'access token', 'invalid_token')}")
    if stored is None:
        raise CredentialRequestRefused("invalid_token", "the access token is unknown or expired")
    return Grant.from_json(stored)


def new_nonce(*, cache: Cache) -> str:
    """SPEC: OpenID4VCI 1.0 §7 — a fresh c_nonce, accepted once in a proof."""
    nonce = _opaque()
    cache.set_if_absent(f"{_PREFIX}nonce:{nonce}", "1", ttl_seconds=NONCE_TTL_SECONDS)
    return nonce


def _consume_nonce(cache: Cache, nonce: object) -> None:
    if not isinstance(nonce, str) or len(nonce) > MAX_OPAQUE_CHARS or cache.get(f"{_PREFIX}nonce:{nonce}") is None:
        raise CredentialRequestRefused("invalid_nonce", "the proof's nonce is not one this issuer gave, or it expired")
    if not cache.set_if_absent(f"{_PREFIX}nonce-used:{nonce}", "1", ttl_seconds=NONCE_TTL_SECONDS):
        raise CredentialRequestRefused("invalid_nonce", "the proof's nonce was used already")
    cache.delete(f"{_PREFIX}nonce:{nonce}")


def verify_proof(*, cache: Cache, proof: object, issuer: str, now: datetime) -> dict[str, Any]:
    """The holder's P-256 public JWK the proof JWT was signed with.

    SPEC: OpenID4VCI 1.0 Appendix F.1 (jwt proof type) and F.4 (verifying it).
    """
    # 1. A compact JWS of our one algorithm, typ openid4vci-proof+jwt.
    try:
        jws = parse_compact(proof, max_chars=MAX_PROOF_CHARS, typ=PROOF_TYPE)
    except VerificationError as error:
        raise CredentialRequestRefused("invalid_proof", str(error)) from None
    # 2. The key is in the header as a P-256 JWK (no kid or x5c: the wallet's key has no other name).
    try:
        holder_jwk = canonical_public_jwk(jws.header.get("jwk"))
        holder_key = public_key_from_jwk(holder_jwk)
    except InvalidInput as error:
        raise CredentialRequestRefused("invalid_proof", f"the proof's jwk header: {error}") from None
    # 3. Signed by that key.
    if not holder_key.verify(jws.signing_input, jws.signature):
        raise CredentialRequestRefused("invalid_proof", "the proof is not signed by the key in its header")
    # 4. Meant for this issuer, issued just now.
    if jws.claims.get("aud") != issuer:
        raise CredentialRequestRefused("invalid_proof", "the proof's aud is not this credential issuer")
    iat = jws.claims.get("iat")
    moment = now.timestamp()
    if type(iat) is not int or not moment - PROOF_MAX_AGE_SECONDS <= iat <= moment + PROOF_SKEW_SECONDS:
        raise CredentialRequestRefused("invalid_proof", "the proof's iat is missing or not recent")
    # 5. Answering a nonce of ours, once (last: a refused proof leaves the nonce usable).
    _consume_nonce(cache, jws.claims.get("nonce"))
    return holder_jwk


@dataclass(frozen=True)
class Issued:
    """A credential, or the transaction to ask for it again when the licence is not ready yet."""

    credential: str | None = None
    transaction_id: str | None = None


def current_view(*, session: Session, grant: Grant) -> reads.LicenceView:
    """The licence's current version: after a change the holder fetches the new one with a new offer."""
    view = reads.get_for_holder(session=session, identifier=grant.identifier, holder=grant.holder())
    licence = view.licence
    current = str(LicenceIdentifier(licence.type_code, licence.issuer_code, licence.serial, licence.current_version))
    return reads.get_for_holder(session=session, identifier=current, holder=grant.holder())


def not_ready(view: reads.LicenceView, *, today: date) -> bool:
    """Suspended, or its current version not in force yet: a wallet would hold a credential no verifier accepts."""
    return view.licence.status == LicenceStatus.SUSPENDED or view.version.valid_from > today


def issue(*, session: Session, cache: Cache, grant: Grant, holder_jwk: dict[str, Any], registry_id: str,
          key_secret: bytes, now: datetime) -> Issued:
    """SPEC: OpenID4VCI 1.0 §8.3 (immediate) and §9 (deferred: transaction_id)."""
    view = current_view(session=session, grant=grant)
    if view.licence.status in LicenceStatus.FINAL:
        raise CredentialRequestRefused("credential_request_denied", f"the licence is {view.licence.status}")
    if not_ready(view, today=now.astimezone(CHINA_TIME).date()):
        transaction_id = _opaque()
        cache.set_if_absent(f"{_PREFIX}deferred:{transaction_id}", json.dumps({"grant": grant.to_json(),
                            "jwk": holder_jwk}), ttl_seconds=DEFERRED_TTL_SECONDS)
        return Issued(transaction_id=transaction_id)
    return Issued(credential=credentials.credential(session=session, view=view, registry_id=registry_id,
                                                    key_secret=key_secret, holder_jwk=holder_jwk, now=now))


def issue_deferred(*, session: Session, cache: Cache, grant: Grant, transaction_id: object, registry_id: str,
                   key_secret: bytes, now: datetime) -> Issued:
    """SPEC: OpenID4VCI 1.0 §9.1-§9.3 — issuance_pending until the licence is ready, then the credential, once."""
    transaction_id = _bounded(transaction_id, "transaction_id", "invalid_transaction_id")
    stored = cache.get(f"{_PREFIX}deferred:{transaction_id}")
    if stored is None:
        raise CredentialRequestRefused("invalid_transaction_id", "the transaction is unknown, expired or done")
    pending = json.loads(stored)
    if Grant.from_json(pending["grant"]) != grant:  # another holder's or licence's transaction
        raise CredentialRequestRefused("invalid_transaction_id", "the transaction is unknown, expired or done")
    issued = issue(session=session, cache=cache, grant=grant, holder_jwk=pending["jwk"], registry_id=registry_id,
                   key_secret=key_secret, now=now)
    if issued.credential is None:
        cache.delete(f"{_PREFIX}deferred:{issued.transaction_id}")  # keep the first transaction, not a second
        return Issued(transaction_id=transaction_id)
    cache.delete(f"{_PREFIX}deferred:{transaction_id}")
    return issued


class PreAuthorizedCodes(PreAuthorizedCodeGrant):
    """The token endpoint's pre-authorized code grant (identity/api.py serves the endpoint)."""

    def __init__(self, *, cache: Cache) -> None:
        self._cache = cache

    def redeem(self, *, pre_authorized_code: str | None, tx_code: str | None) -> dict:
        try:
            token, _grant = redeem_code(cache=self._cache, code=pre_authorized_code, tx_code=tx_code)
        except CredentialRequestRefused as refused:
            raise TokenRequestRefused(refused.code, str(refused)) from None
        # SPEC: RFC 6749 §5.1; OpenID4VCI 1.0 §6.2 (the nonce comes from the nonce endpoint, not here).
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS}
