"""The one table that maps domain errors to HTTP statuses.

Domain packages raise their own exceptions without HTTP knowledge; the body
is always {"error": code, "message": text}.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse

from registry.errors import InvalidIdentifier, RegistryError, RegistryNotInitialised
from signing.errors import (
    AuthorizationNotFound,
    InvalidInput,
    KeyDecryptionFailed,
    KeyNotFound,
    MakerNotFound,
    NotAuthorized,
    SealNotActive,
    SealNotFound,
    SigningError,
    VerificationError,
)
from catalog.errors import (
    AuthError,
    CatalogError,
    DuplicateEntry,
    Forbidden,
    InvalidCatalog,
    InvalidCode,
    NotFound,
)

log = logging.getLogger("certhub")

# Most specific first: the first class the error is an instance of wins.
ERROR_STATUS: list[tuple[type[Exception], int]] = [
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (DuplicateEntry, 409),
    (InvalidCatalog, 422),
    (InvalidCode, 422),
    (CatalogError, 400),
    (SealNotFound, 404),
    (KeyNotFound, 404),
    (MakerNotFound, 404),
    (AuthorizationNotFound, 404),
    (NotAuthorized, 403),
    (SealNotActive, 409),
    (InvalidInput, 422),
    (VerificationError, 422),
    # A key that no longer decrypts means the deployment's secret changed:
    # an operator problem, never the caller's.
    (KeyDecryptionFailed, 500),
    (SigningError, 400),
    (RegistryNotInitialised, 503),
    (InvalidIdentifier, 422),
    (RegistryError, 400),
]


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
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s: %s", type(exc).__name__, exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    code = getattr(exc, "code", "error")
    return JSONResponse(_error_body(code, str(exc)), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for error in exc.errors()[:20]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg')}")
    return JSONResponse(_error_body("invalid_request", "; ".join(problems)), status_code=422)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if isinstance(exc.detail, dict) and "error" in exc.detail:
        body = exc.detail
    else:
        body = _error_body(_CODE_BY_STATUS.get(exc.status_code, "error"), str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
}
