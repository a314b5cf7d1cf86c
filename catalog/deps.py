"""FastAPI dependencies every package's router uses: the request's database
session, the cache, and the authenticated department client.

The app factory puts a sessionmaker, a cache and a TokenAuthority on
`app.state`; these functions read them, so packages never import certhub.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from catalog.cache import Cache
from catalog.errors import AuthError, Forbidden
from catalog.holder_auth import HolderAuthority, HolderPrincipal
from catalog.tokens import Principal, TokenAuthority

T = TypeVar("T")

class DepartmentBearer(HTTPBearer):
    """The department clients' bearer scheme as a dependency that gives the
    caller itself (AuthError when there is no valid token).

    One dependency where the scheme and a function reading its credentials
    were two: FastAPI solves each dependency of each request anew, about
    1.5% of a redemption each. Subclasses may add parameters of their own
    (the operator header of ``catalog.client_assertions.operating_caller``).
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


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, committed when the handler succeeds: the
    request is the unit of work.

    Opening a session touches no connection, so it happens on the event
    loop; the commit (or rollback) and the close talk to the database and
    run in the thread pool, in one hop, shielded from cancellation so a
    disconnecting client never leaves a connection checked out.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_discard, session)
        raise
    if _settled(session):  # the route committed already: nothing left to say to the database
        session.close()
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_keep, session)


def _settled(session: Session) -> bool:
    return not session.in_transaction() and not (session.new or session.dirty or session.deleted)


def _keep(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _discard(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


# scope="function": the commit runs before the response is sent, so a failed
# commit becomes an error response instead of data the database never kept.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Short work: database statements and Python, no calls to other systems
# (redeeming a code, reading a licence). One process runs Python on one core
# at a time, so admitting more such work at once than it takes to overlap
# the database's round trips only makes the threads fight over the
# interpreter lock. Work that waits on other systems (an adapter's call to
# a department) keeps the default pool, so a slow department cannot starve it.
SHORT_WORK_THREADS = 4


async def run_short_work(request: Request, func: Callable[..., T], /, **kwargs: Any) -> T:
    """``func(**kwargs)`` in the thread pool, at most SHORT_WORK_THREADS at once per process."""
    # One limiter per event loop (a limiter belongs to the loop it waits on;
    # tests may run an app on more than one), made on first use.
    loop = asyncio.get_running_loop()
    known = getattr(request.app.state, "short_work_limiter", None)
    if known is None or known[0] is not loop:
        known = request.app.state.short_work_limiter = (loop, anyio.CapacityLimiter(SHORT_WORK_THREADS))
    return await anyio.to_thread.run_sync(functools.partial(func, **kwargs), limiter=known[1])


async def get_cache(request: Request) -> Cache:
    return request.app.state.cache


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
