"""FastAPI dependencies every package's router uses: the request's database
session, the cache, and the authenticated department client.

The app factory puts a sessionmaker, a cache and a TokenAuthority on
`app.state`; these functions read them, so packages never import certhub.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from catalog.cache import Cache
from catalog.errors import AuthError, Forbidden
from catalog.holder_auth import HolderAuthority, HolderPrincipal
from catalog.tokens import Principal, TokenAuthority

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/oauth/token")
# A scheme of its own so the OpenAPI document shows holders and department
# systems authenticate differently.
_holder_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="HolderSession",
    description="A holder session token from POST /api/v1/holders/session",
)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed when the handler succeeds: the
    request is the unit of work."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit runs before the response is sent, so a failed
# commit becomes an error response instead of data the database never kept.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_cache(request: Request) -> Cache:
    return request.app.state.cache


def get_token_authority(request: Request) -> TokenAuthority:
    return request.app.state.token_authority


def current_principal(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    authority: TokenAuthority = Depends(get_token_authority),
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer access token is required")
    return authority.verify(credentials.credentials)


def get_holder_authority(request: Request) -> HolderAuthority:
    authority = getattr(request.app.state, "holder_authority", None)
    if authority is None:
        raise AuthError("holder sign-in is not set up on this deployment")
    return authority


def current_holder(
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

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        missing = [s for s in scopes if not principal.has(s)]
        if missing:
            raise Forbidden(f"this call needs the scope(s): {', '.join(missing)}")
        return principal

    return dependency
