"""The one table that maps domain errors to HTTP statuses.

Domain packages raise their own exceptions without HTTP knowledge; the body
is always {"error": code, "message": text}.
"""

from __future__ import annotations

import logging
import sys

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sqlalchemy_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters import errors as adapter_errors
from catalog.access import InvalidUseRecord
from catalog.errors import CatalogError, DuplicateEntry, InvalidCatalog, NotFound
from exchange import errors as exchange_errors
from exchange.auditlog.errors import (
    AuditLogError,
    InvalidQuery,
    LogCorrupted,
    LogUnavailable,
    NotInLog,
)
from exchange.subscriptions import errors as subscription_errors
from identity.errors import (
    AuthError,
    DuplicateRegistration,
    Forbidden,
    IdentityError,
    IdentityProviderUnavailable,
    InvalidCode,
    InvalidRegistration,
    InvalidToken,
    LoginUnavailable,
    TokenRequestRefused,
    UnknownClient,
)
from identity.ratelimit import RateLimited, RateLimitUnavailable
from registry.errors import (
    CredentialNotSignable,
    CredentialRequestRefused,
    CredentialTokenRefused,
    DisputeNotFound,
    IdempotencyConflict,
    InvalidIdentifier,
    InvalidLicenceRequest,
    InvalidTransition,
    LicenceNotFound,
    NotIssuer,
    NotIssuersSeal,
    NoUsableSeal,
    PdfNotSignable,
    RegistryError,
    RegistryNotInitialised,
    SealAlgorithmMismatch,
    SealNotUsable,
    SealWrongPurpose,
    StatusListNotFound,
    UnknownSeal,
)
from registry.oid4vp import errors as oid4vp_errors
from registry.presentations import errors as presentation_errors
from signing.errors import (
    AuthorizationNotFound,
    InvalidInput,
    KeyDecryptionFailed,
    KeyNotFound,
    MakerNotFound,
    NotAuthorized,
    OfdSigningError,
    SealNotActive,
    SealNotFound,
    SigningError,
    TimestampUnavailable,
    VerificationError,
)

log = logging.getLogger("certhub")

# Most specific first: the first class the error is an instance of wins.
ERROR_STATUS: list[tuple[type[Exception], int]] = [
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (UnknownClient, 404),
    (LoginUnavailable, 404),
    (DuplicateEntry, 409),
    (DuplicateRegistration, 409),
    (InvalidCatalog, 422),
    (InvalidRegistration, 422),
    (InvalidCode, 422),
    (InvalidUseRecord, 422),
    # The holders' OpenID provider is down or misconfigured: retry later.
    (IdentityProviderUnavailable, 503),
    (RateLimited, 429),
    (RateLimitUnavailable, 503),
    (CatalogError, 400),
    (IdentityError, 400),
    (SealNotFound, 404),
    (KeyNotFound, 404),
    (MakerNotFound, 404),
    (AuthorizationNotFound, 404),
    (NotAuthorized, 403),
    (SealNotActive, 409),
    (OfdSigningError, 409),  # the seal has no SM2 key: a state of the seal, not of the request
    (InvalidInput, 422),
    (VerificationError, 422),
    # A key that no longer decrypts means the deployment's secret changed:
    # an operator problem, never the caller's.
    (KeyDecryptionFailed, 500),
    # The deployment's TSA is down: a signed PDF without its trusted time is not handed out.
    (TimestampUnavailable, 503),
    (SigningError, 400),
    (RegistryNotInitialised, 503),
    (adapter_errors.ProviderTimeout, 504),
    (adapter_errors.ProviderUnavailable, 503),
    (adapter_errors.CircuitOpen, 503),
    (adapter_errors.SourceError, 502),
    (adapter_errors.StaleSource, 503),
    (adapter_errors.FederationFetchFailed, 502),
    (adapter_errors.DocumentRejected, 502),
    (adapter_errors.TicketNotFound, 404),
    (adapter_errors.NotPermitted, 403),
    (adapter_errors.IllegalTransition, 409),
    (adapter_errors.InvalidTicket, 422),
    (adapter_errors.DeliveryFailed, 502),
    (adapter_errors.InvalidSubject, 422),
    (adapter_errors.InvalidWebhook, 422),
    # Missing or broken bindings are the operator's to fix, not the caller's.
    (adapter_errors.AdapterConfigError, 503),
    (adapter_errors.AdapterError, 400),
    (InvalidIdentifier, 422),
    (LicenceNotFound, 404),
    (DisputeNotFound, 404),
    (StatusListNotFound, 404),
    (InvalidLicenceRequest, 422),
    (NotIssuer, 403),
    (NoUsableSeal, 409),
    # The issuer has no ES256 seal key: a PDF reader could not check the signature (docs/formats.md).
    (PdfNotSignable, 409),
    # Nor an ES256 key for the SD-JWT VC (docs/sd-jwt-vc.md), or a face field named like a credential claim.
    (CredentialNotSignable, 409),
    # OpenID4VCI 1.0 §8.3.1: a refused credential request is 400 with its code; a bad token 401.
    (CredentialTokenRefused, 401),
    (CredentialRequestRefused, 400),
    # A seal the issuer named: unknown, wrong purpose or algorithm 422; another's 403; not usable now 409.
    (UnknownSeal, 422),
    (NotIssuersSeal, 403),
    (SealNotUsable, 409),
    (SealWrongPurpose, 422),
    (SealAlgorithmMismatch, 422),
    (InvalidTransition, 409),
    (IdempotencyConflict, 409),
    # 亮证 and redemption: a bad or foreign code is 422, a used one 409 (replayed),
    # a licence no longer usable 409 (revoked, suspended, expired...).
    (presentation_errors.Replayed, 409),
    (presentation_errors.CodeRefused, 422),
    (presentation_errors.LicenceRefused, 409),
    (presentation_errors.LicenceNotPresentable, 409),
    (presentation_errors.ProxyNotAllowed, 403),
    (presentation_errors.DelegationNotFound, 404),
    (presentation_errors.RedemptionNotFound, 404),
    (presentation_errors.InvalidPresentationRequest, 422),
    # OpenID4VP: a query the verifier does not answer 422, beyond the party's registration 403;
    # a response escapes as an error only when the request was answered before (replayed, 409).
    (oid4vp_errors.InvalidQuery, 422),
    (oid4vp_errors.ClaimsNotAllowed, 403),
    (oid4vp_errors.VpRequestNotFound, 404),
    (oid4vp_errors.ResponseRefused, 409),
    (RegistryError, 400),
    (exchange_errors.SubjectInvalid, 422),
    (exchange_errors.InvalidExchangeRequest, 422),
    (exchange_errors.AgreementNotFound, 404),
    (exchange_errors.ConsentNotFound, 404),
    (exchange_errors.MandateNotFound, 404),
    (exchange_errors.NotParty, 403),
    (exchange_errors.IllegalTransition, 409),
    (exchange_errors.ExchangeError, 400),
    (LogUnavailable, 503),
    (NotInLog, 404),
    (InvalidQuery, 422),
    # Corrupted log storage or a failed checkpoint signature: the operator's problem.
    (LogCorrupted, 500),
    (AuditLogError, 500),
    (subscription_errors.SubscriptionNotFound, 404),
    (subscription_errors.DeadLetterNotFound, 404),
    (subscription_errors.NoAgreement, 403),
    (subscription_errors.InvalidSubscription, 422),
    (subscription_errors.SubscriptionError, 400),
]


# The cache or the database out of reach (a Redis restart, PostgreSQL
# restarting or failing over): not the caller's doing and soon over, so a
# 503 with Retry-After in the usual body, and the connection kept open,
# rather than a bare 500. SPEC: RFC 9110 §15.6.4, §10.2.3
RETRY_AFTER_SECONDS = 5
CACHE_UNAVAILABLE = ("cache_unavailable", "the cache is unreachable; try again shortly")
DATABASE_UNAVAILABLE = ("database_unavailable", "the database is unreachable; try again shortly")
# By module and class name: redis is imported only when the cache is Redis
# (storage.cache), before the app is assembled; without it none can occur.
_REDIS_FAULTS = ("ConnectionError", "TimeoutError")
# PEP 249's OperationalError and InterfaceError: the connection or the
# server, not the statement. Any other DBAPIError only when the connection
# was lost under it (SQLAlchemy then invalidates it).
_DATABASE_FAULTS = (sqlalchemy_errors.OperationalError, sqlalchemy_errors.InterfaceError)


def _error_body(code: str, message: str) -> dict:
    return {"error": code, "message": message}


def status_for(exc: Exception) -> int:
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def install_error_handlers(app: FastAPI) -> None:
    for cls, _status in ERROR_STATUS:
        app.add_exception_handler(cls, _domain_error)
    # After the table: the most specific class's handler wins (Starlette looks up the MRO).
    app.add_exception_handler(TokenRequestRefused, _token_request_refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Starlette's own (an unknown path: 404, a wrong method: 405) as well as
    # FastAPI's subclass, so every refusal has the same body.
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sqlalchemy_errors.DBAPIError, _database_error)
    redis_errors = sys.modules.get("redis.exceptions")
    if redis_errors is not None:
        for name in _REDIS_FAULTS:
            app.add_exception_handler(getattr(redis_errors, name), _cache_error)


async def _database_error(request: Request, exc: sqlalchemy_errors.DBAPIError) -> JSONResponse:
    if not isinstance(exc, _DATABASE_FAULTS) and not exc.connection_invalidated:
        raise exc  # a failed statement (a constraint, a bug): the server error it always was
    return _unavailable(exc, DATABASE_UNAVAILABLE)


async def _cache_error(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(exc, CACHE_UNAVAILABLE)


def _unavailable(exc: Exception, fault: tuple[str, str]) -> JSONResponse:
    # The first line only: a statement's text and parameters follow it.
    log.error("request failed: %s: %s", type(exc).__name__, (str(exc).splitlines() or [""])[0])
    return JSONResponse(_error_body(*fault), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s: %s", type(exc).__name__, exc)
    headers = {"WWW-Authenticate": bearer_challenge(exc)} if status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}  # SPEC: RFC 9110 §10.2.3, RFC 6585 §4
    elif isinstance(exc, RateLimitUnavailable):  # the counters live in the cache: it is out of reach
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    code = getattr(exc, "code", "error")
    return JSONResponse(_error_body(code, str(exc)), status_code=status, headers=headers)


def bearer_challenge(exc: Exception) -> str:
    """SPEC: RFC 6750 §3, §3.1: a request that sent no token gets the bare
    challenge; one whose token was refused is told error="invalid_token"."""
    return 'Bearer error="invalid_token"' if isinstance(exc, InvalidToken) else "Bearer"


async def _token_request_refused(request: Request, exc: TokenRequestRefused) -> JSONResponse:
    """The token endpoint's refusals in RFC 6749 §5.2's form (`error`,
    `error_description`), keeping the house `message` beside them. A failed
    client authentication is 401 with a challenge in the scheme the client
    used: Basic for HTTP Basic; otherwise the endpoint still names Basic, the
    one HTTP scheme it accepts (RFC 9110 §15.5.2 needs a challenge on 401)."""
    body = {"error": exc.code, "error_description": str(exc), "message": str(exc)}
    if exc.code != "invalid_client":
        return JSONResponse(body, status_code=400)
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Basic realm="certhub"'})


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for error in exc.errors()[:20]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg')}")
    return JSONResponse(_error_body("invalid_request", "; ".join(problems)), status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if isinstance(exc.detail, dict) and "error" in exc.detail:
        body = exc.detail
    else:
        body = _error_body(CODE_BY_STATUS.get(exc.status_code, "error"), str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}
