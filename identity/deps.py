"""FastAPI dependencies for who is calling: the authenticated department
client (and its scopes) and the signed-in holder.

The app factory puts a TokenAuthority and a HolderAuthority on `app.state`;
these functions read them, so packages never import certhub.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from identity.errors import AuthError, Forbidden
from identity.holder_auth import HolderAuthority, HolderPrincipal
from identity.tokens import Principal, TokenAuthority


class DepartmentBearer(HTTPBearer):
    """The department clients' bearer scheme as a dependency that gives the
    caller itself (AuthError when there is no valid token).

    One dependency where the scheme and a function reading its credentials
    were two: FastAPI solves each dependency of each request anew, about
    1.5% of a redemption each. Subclasses may add parameters of their own
    (the operator header of ``identity.client_assertions.operating_caller``).
    The OpenAPI document names and describes the scheme as before."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="An access token from POST /api/v1/oauth/token")

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await self.principal(request)

    async def principal(self, request: Request) -> Principal:
        return principal_of(request, await HTTPBearer.__call__(self, request))


# A scheme of its own so the OpenAPI document shows holders and department
# systems authenticate differently.
_holder_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="HolderSession",
    description="A holder session token from POST /api/v1/holders/session",
)


async def get_token_authority(request: Request) -> TokenAuthority:
    return request.app.state.token_authority


def principal_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The department client a request's bearer token names (AuthError if none, or not valid)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer access token is required")
    authority: TokenAuthority = request.app.state.token_authority
    return authority.verify(credentials.credentials)


def check_scopes(principal: Principal, scopes: Sequence[str]) -> Principal:
    missing = [s for s in scopes if not principal.has(s)]
    if missing:
        raise Forbidden(f"this call needs the scope(s): {', '.join(missing)}")
    return principal


# Dependencies take the request itself rather than other dependencies where
# they can: FastAPI solves every dependency of every request anew, and each
# one costs about as much as a small database statement.
current_principal = DepartmentBearer()


async def get_holder_authority(request: Request) -> HolderAuthority:
    authority = getattr(request.app.state, "holder_authority", None)
    if authority is None:
        raise AuthError("holder sign-in is not set up on this deployment")
    return authority


async def current_holder(
    credentials: HTTPAuthorizationCredentials | None = Depends(_holder_bearer),
    authority: HolderAuthority = Depends(get_holder_authority),
) -> HolderPrincipal:
    """The holder acting on their own behalf, from a holder session token.
    Department access tokens are refused (and holder tokens are refused by
    `current_principal`): the two never stand in for each other."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer holder session token is required (POST /api/v1/holders/session)")
    return authority.verify(credentials.credentials)


HolderDep = Annotated[HolderPrincipal, Depends(current_holder)]


def require_scopes(*scopes: str):
    """A dependency that authenticates the caller and demands every scope."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        return check_scopes(principal, scopes)

    return dependency
