"""HTTP API for staff sign-in: exchange a staff OpenID Connect ID token for
a certhub staff session token, refresh it while the shift lasts, end it, and
show who it belongs to. The demo's staff sign-in is the composition's
(certhub.web.demo), as it reads the demo's staff list."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity.deps import StaffDep
from identity.errors import InvalidIdToken, LoginUnavailable
from identity.masking import MaskRule, mask_value
from identity.oidc import MAX_ID_TOKEN_LENGTH
from identity.staff_auth import StaffAuthority, StaffPrincipal, ended_session_key
from storage.cache import Cache
from storage.sessions import get_cache
from wiring import find_service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])


async def get_staff_authority(request: Request) -> StaffAuthority:
    return find_service(request, StaffAuthority)


Authority = Annotated[StaffAuthority, Depends(get_staff_authority)]
CacheDep = Annotated[Cache, Depends(get_cache)]


class StaffSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_token: str = Field(min_length=1, max_length=MAX_ID_TOKEN_LENGTH,
                          description="an ID token from the staff client at the province's OpenID provider")
    # The nonce the page sent in its authentication request, if any.
    nonce: str | None = Field(default=None, min_length=1, max_length=256)


class StaffOut(BaseModel):
    """The staff member as the page shows them: the name masked (a counter
    screen is seen by the person across the desk), the staff id in full (it
    is what the use log records, and not a personal identifier)."""

    staff_id: str
    name: str
    department_code: str
    roles: list[str]
    scopes: list[str]
    auth_method: str
    session_id: str
    shift_ends_at: int = Field(description="Unix time after which the session cannot be refreshed: sign in again")


class StaffSessionOut(BaseModel):
    session_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds; refresh before then (POST /api/v1/staff/session/refresh)")
    staff: StaffOut


def staff_out(authority: StaffAuthority, principal: StaffPrincipal) -> StaffOut:
    return StaffOut(
        staff_id=principal.staff_id, name=mask_value(principal.name, MaskRule.name) or "",
        department_code=principal.department_code, roles=sorted(principal.roles), scopes=sorted(principal.scopes),
        auth_method=principal.auth_method, session_id=principal.session_id,
        shift_ends_at=authority.shift_ends_at(principal),
    )


def staff_session(authority: StaffAuthority, principal: StaffPrincipal) -> StaffSessionOut:
    """The answer that opens (or continues) a session: a token and who it is for."""
    token, lifetime = authority.issue(principal=principal)
    return StaffSessionOut(session_token=token, expires_in=lifetime, staff=staff_out(authority, principal))


@router.post("/session", response_model=StaffSessionOut)
def open_staff_session(body: StaffSessionRequest, authority: Authority, cache: CacheDep) -> StaffSessionOut:
    """Exchange a staff ID token from the province's OpenID provider for a
    staff session token. Each ID token opens one session only."""
    verifier = authority.oidc
    if verifier is None:
        raise LoginUnavailable(
            "staff OpenID Connect sign-in is not configured (CERTHUB_STAFF_OIDC_ISSUER, CERTHUB_STAFF_OIDC_AUDIENCE)")
    identity = verifier.verify(body.id_token, nonce=body.nonce)
    # As for holders: a replayed ID token must not open a second session.
    digest = hashlib.sha256(body.id_token.encode("utf-8")).hexdigest()
    if not cache.set_if_absent(f"staff:id-token:{digest}", "1", ttl_seconds=verifier.replay_window_seconds):
        raise InvalidIdToken("this ID token was already exchanged for a session; sign in again")
    principal = authority.new_principal(staff_id=identity.staff_id, department_code=identity.department_code,
                                        roles=identity.roles, name=identity.name, auth_method="oidc")
    log.info("staff session opened via OIDC (roles %s, session %s)", ",".join(sorted(principal.roles)),
             principal.session_id)
    return staff_session(authority, principal)


@router.post("/session/refresh", response_model=StaffSessionOut)
def refresh_staff_session(staff: StaffDep, authority: Authority) -> StaffSessionOut:
    """A fresh token for the caller's own session (same person, roles and
    shift), while the shift lasts; the pages call it while the person works.
    StaffDep has verified the token and that the session was not ended."""
    return staff_session(authority, staff)


@router.delete("/session", status_code=204, response_class=Response)
def end_staff_session(staff: StaffDep, authority: Authority, cache: CacheDep) -> Response:
    """Sign out: the session's tokens stop working at once, everywhere (the
    end is kept in the cache until the shift would have ended)."""
    remaining = authority.shift_ends_at(staff) - int(time.time())
    cache.set_if_absent(ended_session_key(staff.session_id), "1", ttl_seconds=max(remaining, 1))
    log.info("staff session ended (session %s)", staff.session_id)
    return Response(status_code=204)


@router.get("/me", response_model=StaffOut)
def staff_me(staff: StaffDep, authority: Authority) -> StaffOut:
    return staff_out(authority, staff)
