"""HTTP of OpenID4VCI 1.0 (registry/issuance/service.py): the credential issuer's metadata, the
holder's offer, and the wallet's nonce, credential and deferred credential endpoints. The token
endpoint is identity's (/api/v1/oauth/token), with the pre-authorized code grant."""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from catalog.access import UseLog, UseRecord
from catalog.service import licence_types
from identity.deps import HolderDep
from identity.holder_auth import HolderPrincipal
from identity.ratelimit import RateLimiter
from registry.errors import CredentialRequestRefused, CredentialTokenRefused
from registry.issuance import service as issuance
from registry.licences.api import document_keys
from registry.service import credentials
from signing.qr import render_qr_png
from signing.sdjwt import VC_TYPE, vct_for
from storage.base import utcnow
from storage.cache import Cache
from storage.sessions import SessionDep
from wiring import service

router = APIRouter(prefix="/api/v1/oid4vci", tags=["credential issuance"])
offer_router = APIRouter(prefix="/api/v1/holders/me", tags=["holder wallet"])
well_known_router = APIRouter(tags=["credential issuance"])

CacheDep = Annotated[Cache, service(Cache)]
LimiterDep = Annotated[RateLimiter, service(RateLimiter)]
NONCE_PATH, CREDENTIAL_PATH, DEFERRED_PATH = "/api/v1/oid4vci/nonce", "/api/v1/oid4vci/credential", \
    "/api/v1/oid4vci/deferred_credential"
# Guessing is hopeless (256-bit codes and nonces); these bound the cache writes one caller can cause.
OFFERS_PER_MINUTE, NONCES_PER_MINUTE, CREDENTIALS_PER_MINUTE = 20, 6000, 60
HOLDER_PURPOSE = "本人存入钱包"


def _issuer(request: Request) -> str:
    return document_keys(request)["registry_id"].rstrip("/")


@well_known_router.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata(request: Request, session: SessionDep) -> dict[str, Any]:
    """SPEC: OpenID4VCI 1.0 §12.2 — one `dc+sd-jwt` configuration per licence type, names from the catalog."""
    issuer = _issuer(request)
    return {
        "credential_issuer": issuer,
        "authorization_servers": [issuer],
        "credential_endpoint": issuer + CREDENTIAL_PATH,
        "nonce_endpoint": issuer + NONCE_PATH,
        "deferred_credential_endpoint": issuer + DEFERRED_PATH,
        "display": [{"name": "电子证照", "locale": "zh-CN"}, {"name": "E-licences", "locale": "en"}],
        "credential_configurations_supported": {
            issuance.configuration_id(t.code): {
                "format": VC_TYPE,  # SPEC: OpenID4VCI 1.0 Appendix A.3
                "vct": vct_for(registry_id=issuer, type_code=t.code),
                "scope": issuance.configuration_id(t.code),
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": ["ES256"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
                "credential_metadata": {"display": [{"name": t.name, "locale": "zh-CN"},
                                                    {"name": t.name_en or t.name, "locale": "en"}]},
            }
            for t in licence_types.list_(session=session)
        },
    }


class OfferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tx_code: bool = Field(default=False, description="Guard the offer with a transaction code shown only here")


class OfferRead(BaseModel):
    credential_offer: dict[str, Any] = Field(description="OpenID4VCI 1.0 §4.1.1 Credential Offer")
    offer_uri: str = Field(description="openid-credential-offer://?credential_offer=... for a wallet")
    qr_png_base64: str = Field(description="offer_uri as a QR code (PNG)")
    tx_code: str | None = Field(description="The transaction code to type into the wallet, if asked for")
    expires_in: int


def _holder_scope(holder: HolderPrincipal) -> str:
    """A rate-limit scope naming the holder without their code (never stored unmasked)."""
    return "holder:" + hashlib.sha256(f"{holder.holder_code_type}:{holder.holder_code}".encode()).hexdigest()[:32]


@offer_router.post("/licences/{identifier}/credential-offer", response_model=OfferRead)
def my_credential_offer(identifier: str, body: OfferCreate, request: Request, session: SessionDep,
                        holder: HolderDep, cache: CacheDep, limiter: LimiterDep) -> OfferRead:
    """A credential offer of one of the holder's licences for a wallet (pre-authorized code flow)."""
    scope = _holder_scope(holder)
    limiter.count_attempts(bucket="oid4vci-offer", within=scope, limits=[(scope, OFFERS_PER_MINUTE)],
                           what="credential offers")
    offer = issuance.create_offer(session=session, cache=cache, holder=holder, identifier=identifier,
                                  issuer=_issuer(request), with_tx_code=body.tx_code)
    uri = offer.uri()
    return OfferRead(credential_offer=offer.offer, offer_uri=uri, tx_code=offer.tx_code,
                     qr_png_base64=base64.b64encode(render_qr_png(uri)).decode(),
                     expires_in=issuance.CODE_TTL_SECONDS)


@router.post("/nonce")
def nonce(cache: CacheDep, limiter: LimiterDep) -> JSONResponse:
    """SPEC: OpenID4VCI 1.0 §7.2 — a fresh c_nonce, not to be cached."""
    limiter.count_attempts(bucket="oid4vci-nonce", within="oid4vci", limits=[("all", NONCES_PER_MINUTE)],
                           what="nonces")
    return JSONResponse({"c_nonce": issuance.new_nonce(cache=cache)}, headers={"Cache-Control": "no-store"})


class ProofsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwt: list[Annotated[str, Field(max_length=issuance.MAX_PROOF_CHARS)]] = Field(min_length=1, max_length=1)


class CredentialIn(BaseModel):
    """SPEC: OpenID4VCI 1.0 §8.2. One proof: one credential per request."""

    credential_configuration_id: str = Field(max_length=64)
    proofs: ProofsIn


class DeferredIn(BaseModel):
    transaction_id: str = Field(max_length=issuance.MAX_OPAQUE_CHARS)


def _grant(cache: Cache, authorization: str | None) -> issuance.Grant:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise CredentialTokenRefused("invalid_token", "a bearer access token from the token endpoint is required")
    try:
        return issuance.grant_of_token(cache=cache, token=token.strip())
    except CredentialRequestRefused as refused:
        raise CredentialTokenRefused("invalid_token", str(refused)) from None


def _answer(issued: issuance.Issued, *, session: Session, recorder: UseLog, grant: issuance.Grant,
            request: Request) -> JSONResponse:
    if issued.credential is None:  # SPEC: OpenID4VCI 1.0 §8.3, §9.2 — 202 with the transaction to ask again
        return JSONResponse({"transaction_id": issued.transaction_id,
                             "interval": issuance.DEFERRED_INTERVAL_SECONDS}, status_code=202,
                            headers={"Cache-Control": "no-store"})
    view = issuance.current_view(session=session, grant=grant)
    # The wallet holds every claim: the log names them all, as for the holder's own download.
    recorder.append(session=session, records=[UseRecord(
        kind="holder_access", department_code=view.licence.issuer_code, operator_id="holder", basis="holder_self",
        subject_code=grant.holder_code, licence_ids=(view.version.identifier,),
        fields=tuple(credentials.claims(view)), purpose=HOLDER_PURPOSE)])
    return JSONResponse({"credentials": [{"credential": issued.credential}]}, headers={"Cache-Control": "no-store"})


@router.post("/credential")
def credential(body: CredentialIn, request: Request, session: SessionDep, cache: CacheDep, limiter: LimiterDep,
               recorder: Annotated[UseLog, service(UseLog)],
               authorization: Annotated[str | None, Header(max_length=4096)] = None) -> JSONResponse:
    """SPEC: OpenID4VCI 1.0 §8 — the licence of the access token as an SD-JWT VC bound to the proof's key."""
    grant = _grant(cache, authorization)
    scope = _holder_scope(grant.holder())
    limiter.count_attempts(bucket="oid4vci-credential", within=scope, limits=[(scope, CREDENTIALS_PER_MINUTE)],
                           what="credential requests")
    view = issuance.current_view(session=session, grant=grant)
    if body.credential_configuration_id != issuance.configuration_id(view.licence.type_code):
        raise CredentialRequestRefused("invalid_credential_request", "the token is for another credential configuration")
    keys = document_keys(request)
    now = utcnow().replace(microsecond=0)
    holder_jwk = issuance.verify_proof(cache=cache, proof=body.proofs.jwt[0], issuer=_issuer(request), now=now)
    issued = issuance.issue(session=session, cache=cache, grant=grant, holder_jwk=holder_jwk, now=now, **keys)
    return _answer(issued, session=session, recorder=recorder, grant=grant, request=request)


@router.post("/deferred_credential")
def deferred_credential(body: DeferredIn, request: Request, session: SessionDep, cache: CacheDep,
                        recorder: Annotated[UseLog, service(UseLog)],
                        authorization: Annotated[str | None, Header(max_length=4096)] = None) -> JSONResponse:
    """SPEC: OpenID4VCI 1.0 §9 — the credential once the licence is ready, else 202 again."""
    grant = _grant(cache, authorization)
    issued = issuance.issue_deferred(session=session, cache=cache, grant=grant, transaction_id=body.transaction_id,
                                     now=utcnow().replace(microsecond=0), **document_keys(request))
    return _answer(issued, session=session, recorder=recorder, grant=grant, request=request)
