"""HTTP API of the OpenID4VP verifier (docs/oid4vp.md).

A registered relying party (scope `presentation:verify`) creates requests and reads their
results under /api/v1/oid4vp; the holder's wallet, on any device, fetches the request by
reference and posts its response under /oid4vp (no certhub credentials: the presentation
itself, bound to the request's nonce and the party's client_id, is what counts).
"""

from __future__ import annotations

import base64
import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from catalog.access import UseLog
from catalog.service import relying_parties
from identity.deps import current_principal, require_scopes
from identity.tokens import Principal
from registry.config import RegistryConfig
from registry.oid4vp import service
from registry.oid4vp.dcql import DcqlQuery
from registry.oid4vp.models import RequestStatus
from registry.oid4vp.schemas import CounterRequestCreate, VpRequestCreate, VpRequestRead, VpResultRead
from registry.presentations.api import REDEEM_SCOPE, TrustDep
from signing.qr import render_qr_png
from storage.base import utcnow
from storage.sessions import SessionDep
from wiring import find_service
from wiring import service as wired

router = APIRouter(prefix="/api/v1/oid4vp", tags=["openid4vp verifier"])
wallet_router = APIRouter(prefix="/oid4vp", tags=["openid4vp verifier"])

RelyingPartyCaller = Annotated[Principal, Depends(require_scopes(relying_parties.VERIFY_SCOPE))]
Counter = Annotated[Principal, Depends(require_scopes(REDEEM_SCOPE))]
# Who may read a request's result: the relying party or the counter that made it (own_or_raise checks which).
Asker = Annotated[Principal, Depends(current_principal)]
UseLogDep = Annotated[UseLog, wired(UseLog)]
REQUEST_OBJECT_TYPE = "application/oauth-authz-req+jwt"  # SPEC: RFC 9101 §10.2
WALLET_SCHEME = "openid4vp://"


def _endpoints(request: Request) -> service.Endpoints:
    return service.Endpoints(registry_id=find_service(request, RegistryConfig).registry_id)


@router.post("/requests", response_model=VpRequestRead, status_code=201)
def create_vp_request(body: VpRequestCreate, request: Request, session: SessionDep, caller: RelyingPartyCaller):
    """A presentation request for exactly the claims the party needs (DCQL), within its registration."""
    party = relying_parties.get_or_raise(session=session, client_id=caller.client_id)
    endpoints = _endpoints(request)
    row = service.create_request(session=session, party=party, query=DcqlQuery.from_json(body.dcql_query),
                                 registry_id=endpoints.registry_id, now=utcnow(), matter_code=body.matter_code)
    return _read(row, endpoints=endpoints, verifier_name=party.name)


@router.post("/counter-requests", response_model=VpRequestRead, status_code=201)
def create_counter_vp_request(body: CounterRequestCreate, request: Request, session: SessionDep, caller: Counter):
    """A counter's request for the matter's fields (point 4 of docs/oid4vp.md): the holder's wallet
    discloses only those, still under the issuer's signature, which certhub verifies here."""
    endpoints = _endpoints(request)
    row = service.create_counter_request(
        session=session, client_id=caller.client_id, department_code=caller.department_code,
        matter_code=body.matter_code, purpose=body.purpose, registry_id=endpoints.registry_id, now=utcnow(),
        situation=body.situation)
    return _read(row, endpoints=endpoints, verifier_name=service.verifier_name(session=session, row=row))


def _read(row, *, endpoints: service.Endpoints, verifier_name: str) -> VpRequestRead:
    request_uri = endpoints.request_uri(row.id)
    # SPEC: OpenID4VP 1.0 §5.10 — client_id and request_uri are all the link carries.
    link = WALLET_SCHEME + "?" + urlencode({"client_id": row.client_id, "request_uri": request_uri})
    return VpRequestRead(request_id=row.id, client_id=row.client_id, request_uri=request_uri,
                         authorization_request_uri=link, expires_at=row.expires_at,
                         qr_png_base64=base64.b64encode(render_qr_png(link)).decode(),
                         authorization_request=service.authorization_request(row, verifier_name=verifier_name,
                                                                             endpoints=endpoints))


@router.get("/requests/{request_id}", response_model=VpResultRead, response_model_exclude_none=True)
def vp_request_result(request_id: str, session: SessionDep, caller: Asker) -> VpResultRead:
    """The verdict: pending, refused (with the reason), or verified with only the disclosed claims."""
    row = service.own_or_raise(session=session, request_id=request_id, client_id=caller.client_id)
    return VpResultRead(request_id=row.id, status=row.status, error=row.error, answered_at=row.answered_at,
                        credentials=row.result)


@wallet_router.get("/requests/{request_id}", response_class=Response,
                   responses={200: {"content": {REQUEST_OBJECT_TYPE: {}}}})
def vp_request_object(request_id: str, request: Request, session: SessionDep) -> Response:
    """The request object the wallet fetches by `request_uri` (SPEC: RFC 9101 §5.2, OpenID4VP 1.0
    §5.7): an unsigned JWT (`alg` `none`, RFC 7519 §6) — the client is pre-registered with certhub
    and this URL is certhub's own, served over TLS, so the channel authenticates the request."""
    row = service.pending_or_raise(session=session, request_id=request_id, now=utcnow())
    claims = service.authorization_request(row, verifier_name=service.verifier_name(session=session, row=row),
                                           endpoints=_endpoints(request))
    claims["aud"] = "https://self-issued.me/v2"  # SPEC: OpenID4VP 1.0 §5.8 (static discovery)
    return Response(_unsigned_jwt(claims), media_type=REQUEST_OBJECT_TYPE)


def _unsigned_jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                                        .encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'oauth-authz-req+jwt'})}.{part(claims)}."


@wallet_router.post("/responses/{request_id}")
def post_vp_response(
    request_id: str, request: Request, session: SessionDep, trust: TrustDep, use_log: UseLogDep,
    vp_token: Annotated[str, Form(max_length=service.MAX_VP_TOKEN_CHARS)],
    state: Annotated[str | None, Form(max_length=64)] = None,
) -> JSONResponse:
    """SPEC: OpenID4VP 1.0 §8.2 — the wallet's direct_post. 200 `{}` when verified; 400 with the
    reason when refused (kept, so the relying party reads it too); 409 `replayed` when answered before."""
    row = service.respond(session=session, request_id=request_id, vp_token=vp_token, state=state, trust=trust,
                          registry_id=_endpoints(request).registry_id, use_log=use_log, now=utcnow())
    if row.status == RequestStatus.REFUSED:
        return JSONResponse({"error": row.error, "message": "the presentation was refused"}, status_code=400)
    return JSONResponse({})
