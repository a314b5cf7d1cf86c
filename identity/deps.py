"""FastAPI dependencies for who is calling: the authenticated department
client or signed-in staff member (and the scopes), and the signed-in holder.

The composition root (certhub.root) registers a TokenAuthority, a
HolderAuthority, a StaffAuthority and a RateLimiter as services
(``wiring``); these functions find them by type, so packages never import
certhub.

A department's API takes two kinds of bearer token: a department system's
access token (identity.tokens) and a staff member's session token
(identity.staff_auth), the latter as the department's scopes for the
person's roles with the person as the operator. Holder session tokens are
never accepted there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from identity.client_assertions import operator_of
from identity.errors import AuthError, Forbidden, InvalidToken, MissingCredentials
from identity.holder_auth import HolderAuthority, HolderPrincipal
from identity.operators import MAX_OPERATOR_LENGTH, OPERATOR_HEADER
from identity.ratelimit import RateLimiter, valid_bucket
from identity.staff_auth import StaffAuthority, StaffPrincipal, ended_session_key
from identity.tokens import Principal, TokenAuthority
from storage.cache import Cache
from wiring import MissingService, find_service


class DepartmentBearer(HTTPBearer):
    """The department clients' bearer scheme as a dependency that gives the
    caller itself (AuthError when there is no valid token).

    One dependency where the scheme and a function reading its credentials
    were two: FastAPI solves each dependency of each request anew, about
    1.5% of a redemption each. Subclasses may add parameters of their own
    (the operator header of ``operating_caller``).
    The OpenAPI document names and describes the scheme as before."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer",
                         description="An access token from POST /api/v1/oauth/token")

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await self.principal(request)

    async def principal(self, request: Request) -> Principal:
        token = _bearer_token(await HTTPBearer.__call__(self, request))
        department = _department_caller(request, token)
        if department is not None:
            return department
        # A staff session: its sign-out is looked up in the cache, off the event loop.
        return (await run_in_threadpool(staff_of, request, token)).as_caller()


# A scheme of its own so the OpenAPI document shows holders and department
# systems authenticate differently.
_holder_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="HolderSession",
    description="A holder session token from POST /api/v1/holders/session",
)


async def get_token_authority(request: Request) -> TokenAuthority:
    return find_service(request, TokenAuthority)


def bearer_principal(request: Request, token: str) -> Principal:
    """The department caller a bearer token names: a department system, or a
    signed-in staff member as the department's caller (AuthError if neither)."""
    department = _department_caller(request, token)
    return department if department is not None else staff_of(request, token).as_caller()


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingCredentials("a bearer access token is required")
    return credentials.credentials


def _department_caller(request: Request, token: str) -> Principal | None:
    """A department access token's caller; None for a token that says it is
    a staff session (access tokens are tried first: the systems' calls are
    the many)."""
    try:
        return find_service(request, TokenAuthority).verify(token)
    except InvalidToken:
        if not StaffAuthority.claims_to_be_staff(token):
            raise
    return None


def _staff_authority(request: Request) -> StaffAuthority:
    try:
        return find_service(request, StaffAuthority)
    except MissingService:
        raise InvalidToken("staff sign-in is not set up on this deployment") from None


def staff_of(request: Request, token: str) -> StaffPrincipal:
    """The staff member a staff session token names, unless they signed out
    (AuthError). Blocking: the sign-out is looked up in the cache."""
    principal = _staff_authority(request).verify(token)
    cache: Cache = find_service(request, Cache)  # type: ignore[type-abstract]  # registered under the protocol
    if cache.get(ended_session_key(principal.session_id)) is not None:
        raise InvalidToken("staff session ended (signed out); sign in again")
    return principal


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
    try:
        return find_service(request, HolderAuthority)
    except MissingService:
        raise AuthError("holder sign-in is not set up on this deployment") from None


async def current_holder(
    credentials: HTTPAuthorizationCredentials | None = Depends(_holder_bearer),
    authority: HolderAuthority = Depends(get_holder_authority),
) -> HolderPrincipal:
    """The holder acting on their own behalf, from a holder session token.
    Department access tokens are refused (and holder tokens are refused by
    `current_principal`): the two never stand in for each other."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingCredentials("a bearer holder session token is required (POST /api/v1/holders/session)")
    return authority.verify(credentials.credentials)


HolderDep = Annotated[HolderPrincipal, Depends(current_holder)]


# A scheme of its own: the OpenAPI document shows where a staff session is
# the only credential (its own refresh, sign-out and "who am I").
_staff_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="StaffSession",
    description="A staff session token from POST /api/v1/staff/session",
)


def current_staff(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_staff_bearer),
) -> StaffPrincipal:
    """The signed-in staff member (a plain function: FastAPI runs it in a
    worker thread, where the sign-out lookup may wait for the cache)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingCredentials("a bearer staff session token is required (POST /api/v1/staff/session)")
    return staff_of(request, credentials.credentials)


StaffDep = Annotated[StaffPrincipal, Depends(current_staff)]


# Attributes the dependencies below carry so the OpenAPI document can say
# what a route needs (certhub.openapi) without a decorator per route.
REQUIRED_SCOPES = "required_scopes"
RATE_LIMIT_BUCKET = "rate_limit_bucket"


def require_scopes(*scopes: str):
    """A dependency that authenticates the caller and demands every scope."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        return check_scopes(principal, scopes)

    setattr(dependency, REQUIRED_SCOPES, scopes)
    return dependency


def rate_limit(bucket: str):
    """A dependency that counts a router's requests against ``bucket``:
    ``include_router(..., dependencies=[Depends(rate_limit("exchange"))])``
    (``RateLimiter.charge``, as the hot routes call it in their own work).

    It counts requests of authenticated department clients only: a request
    without a valid bearer token is left to the route's own authentication
    (which refuses it with 401 before any work is done).
    """
    valid_bucket(bucket)

    # A plain function: FastAPI runs it in a worker thread, where the count
    # may wait for the cache as long as any cache call.
    def dependency(request: Request) -> None:
        # Read the header directly: the routes' own security schemes document it.
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return
        try:
            principal = bearer_principal(request, token.strip())
        except AuthError:
            return
        find_service(request, RateLimiter).charge(department_code=principal.department_code, bucket=bucket)

    setattr(dependency, RATE_LIMIT_BUCKET, bucket)
    return dependency


# -- the operator of a request (identity.client_assertions.operator_of) ------


async def caller_operator(
    principal: Principal = Depends(current_principal),
    operator_id: Annotated[str | None, Header(alias=OPERATOR_HEADER, max_length=MAX_OPERATOR_LENGTH)] = None,
) -> str:
    """The dependency form of ``operator_of``."""
    return operator_of(principal=principal, operator_id=operator_id)


CallerOperatorDep = Annotated[str, Depends(caller_operator)]


@dataclass(frozen=True)
class OperatingCaller:
    """A department client and the person operating it."""

    principal: Principal
    operator: str


def operating_caller(*scopes: str):
    """``require_scopes`` and ``caller_operator`` as one dependency, for the
    route called by the thousand (the exchange query): two dependencies for
    FastAPI to solve per request instead of five.

    The order of refusals is theirs: no valid token (401), a scope missing
    (403), then the operator header (422). Its length is checked with the
    rest of its syntax by ``operator_of``, after authentication."""

    return _OperatingCallerScheme(tuple(scopes))


class _OperatingCallerScheme(DepartmentBearer):
    """``operating_caller``'s dependency: the bearer scheme itself, so FastAPI
    solves one dependency per request and documents the scheme as before."""

    def __init__(self, scopes: tuple[str, ...]) -> None:
        super().__init__()
        self.scopes = scopes

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        operator_id: Annotated[str | None, Header(
            alias=OPERATOR_HEADER, json_schema_extra={"maxLength": MAX_OPERATOR_LENGTH})] = None,
    ) -> OperatingCaller:
        principal = check_scopes(await self.principal(request), self.scopes)
        return OperatingCaller(principal=principal, operator=operator_of(principal=principal, operator_id=operator_id))
