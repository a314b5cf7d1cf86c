"""HTTP API for holder sign-in: exchange an OpenID Connect ID token (or, in
demo mode only, a development login) for a certhub holder session token,
and show who the session belongs to."""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from identity.config import IdentityConfig
from identity.deps import HolderDep, get_holder_authority
from identity.errors import InvalidIdToken, LoginUnavailable
from identity.holder_auth import HolderAuthority, HolderPrincipal
from identity.masking import MaskRule, mask_value
from identity.oidc import MAX_ID_TOKEN_LENGTH
from storage.cache import Cache
from storage.sessions import get_cache
from wiring import service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/holders", tags=["holders"])

Authority = Annotated[HolderAuthority, Depends(get_holder_authority)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SessionRequest(_Body):
    id_token: str = Field(min_length=1, max_length=MAX_ID_TOKEN_LENGTH)
    # The nonce the wallet app sent in its authentication request, if any.
    nonce: str | None = Field(default=None, min_length=1, max_length=256)


class DevLoginRequest(_Body):
    holder_code: str = Field(min_length=1, max_length=18)
    holder_code_type: Literal["111", "001"] = "111"
    name: str = Field(min_length=1, max_length=200)
    operator_name: str | None = Field(default=None, min_length=1, max_length=200)


class HolderOut(BaseModel):
    """The holder as shown back to them: masked (最小必要), since the answer
    may sit in browser history or a shared screen."""

    holder_code: str
    holder_code_type: str
    name: str
    operator_name: str | None = None
    auth_method: str
    session_id: str


class SessionOut(BaseModel):
    session_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    holder: HolderOut


def holder_out(principal: HolderPrincipal) -> HolderOut:
    return HolderOut(
        holder_code=mask_value(principal.holder_code, MaskRule.id_number),
        holder_code_type=principal.holder_code_type,
        name=mask_value(principal.name, MaskRule.name),
        operator_name=mask_value(principal.operator_name, MaskRule.name),
        auth_method=principal.auth_method,
        session_id=principal.session_id,
    )


def _session(authority: HolderAuthority, principal: HolderPrincipal) -> SessionOut:
    return SessionOut(
        session_token=authority.issue(principal=principal),
        expires_in=authority.ttl_seconds,
        holder=holder_out(principal),
    )


@router.post("/session", response_model=SessionOut)
def open_session(body: SessionRequest, authority: Authority, cache: Annotated[Cache, Depends(get_cache)]) -> SessionOut:
    """Exchange an ID token from the configured OpenID provider for a holder
    session token. Each ID token opens one session only."""
    verifier = authority.oidc
    if verifier is None:
        raise LoginUnavailable("OpenID Connect sign-in is not configured (CERTHUB_OIDC_ISSUER, CERTHUB_OIDC_AUDIENCE)")
    identity = verifier.verify(body.id_token, nonce=body.nonce)
    # A replayed ID token (stolen from a log, a proxy, a shared device) must
    # not open a second session; keep its hash as long as it could pass.
    digest = hashlib.sha256(body.id_token.encode("utf-8")).hexdigest()
    if not cache.set_if_absent(f"holders:id-token:{digest}", "1", ttl_seconds=verifier.replay_window_seconds):
        raise InvalidIdToken("this ID token was already exchanged for a session; sign in again")
    principal = authority.new_principal(
        holder_code=identity.holder_code,
        holder_code_type=identity.holder_code_type,
        name=identity.name,
        operator_name=identity.operator_name,
        auth_method="oidc",
    )
    log.info("holder session opened via OIDC (type %s, session %s)", principal.holder_code_type, principal.session_id)
    return _session(authority, principal)


@router.post("/dev-login", response_model=SessionOut)
def dev_login(body: DevLoginRequest, config: Annotated[IdentityConfig, service(IdentityConfig)],
              authority: Authority) -> SessionOut:
    """Demo mode only: sign in as any holder without an identity provider."""
    # Fail closed: an app that never said it is a demo is not one.
    if config.demo is not True:
        raise LoginUnavailable("the development login exists only in demo mode (CERTHUB_DEMO=true)")
    principal = authority.new_principal(
        holder_code=body.holder_code,
        holder_code_type=body.holder_code_type,
        name=body.name,
        operator_name=body.operator_name,
        auth_method="dev",
    )
    log.info(
        "holder session opened via demo login (type %s, session %s)", principal.holder_code_type, principal.session_id
    )
    return _session(authority, principal)


@router.get("/me", response_model=HolderOut)
def me(holder: HolderDep) -> HolderOut:
    return holder_out(holder)
