"""The OpenAPI document, made to tell the truth about what the server sends.

FastAPI's generated document knows only the routes' own answers and its own
422 body (`HTTPValidationError`), which certhub never sends. This module
post-processes it, from facts it reads off each route rather than from
hand-written decorators:

- the error answers each operation can give, derived from its dependencies
  (who may call it, with which scopes, whether it is rate limited), its
  parameters and body, all with the one body `certhub.errors` sends
  (`{"error", "message"}`, schema `Error`) and, per status, the codes of
  `certhub.errors.ERROR_STATUS` that can stand in it;
- an `oauth2` client-credentials security scheme with the scopes each
  operation needs (SPEC: OpenAPI 3.1 §4.8.27 OAuth Flows Object);
- operation ids: the route functions' names (`operation_id`);
- one title per schema: FastAPI splits a model that reads differently than it
  writes into `X-Input` and `X-Output` under the same title, and generators
  that name classes by title (openapi-python-client) then drop the second
  and every model referring to it (the data items' answers);
- an example for every request body (`certhub/openapi_examples.json`:
  request bodies the test suite sent and the server accepted).

docs/http.md describes the result; tests/certhub/test_openapi.py checks it
against the server's real answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security import HTTPBearer

from certhub.errors import CACHE_UNAVAILABLE, CODE_BY_STATUS, DATABASE_UNAVAILABLE, ERROR_STATUS
from identity.deps import RATE_LIMIT_BUCKET, REQUIRED_SCOPES, DepartmentBearer
from identity.scopes import KNOWN_SCOPES
from registry.presentations.api import REDEEM_SCOPE

OAUTH2 = "OAuth2"
STAFF_SESSION = "StaffSession"  # identity.deps._staff_bearer's scheme
TOKEN_URL = "/api/v1/oauth/token"
ERROR_SCHEMA = "Error"
TOKEN_ERROR_SCHEMA = "TokenError"
EXAMPLES_FILE = Path(__file__).with_name("openapi_examples.json")

# The two hot routes count their requests inside their own work
# (RateLimiter.charge, docs/architecture.md), not through a dependency.
CHARGED_IN_WORK = frozenset({"redeem_presentation", "query", "query_batch"})
# Redemption checks its scope in its work too (registry.presentations.api._redeem).
SCOPES_CHECKED_IN_WORK = {"redeem_presentation": (REDEEM_SCOPE,)}
TOKEN_OPERATION = "issue_token"

_DESCRIPTIONS = {
    400: "The request is well formed but the domain refuses it",
    401: "No valid credentials (WWW-Authenticate names the scheme; "
         'Bearer error="invalid_token" when a token was sent and refused)',
    403: "The caller is known but may not do this (a scope missing, another department's object)",
    404: "No such object (or path)",
    409: "The object's state does not allow this now (a transition, a replay, a duplicate)",
    413: "The request body is larger than CERTHUB_MAX_REQUEST_BODY_BYTES (the connection is closed)",
    422: "The request does not parse or a value is invalid; the message names each problem",
    429: "Over the department's rate limit or daily quota (Retry-After says when to retry)",
    500: "An operator's problem on the server (a key that no longer decrypts, a corrupted log)",
    502: "Another system answered wrongly",
    503: "The database, the cache or a needed service is unreachable; retry after Retry-After",
    504: "Another system did not answer in time",
}


# The shared error answers, one per status, in components.responses: an
# operation refers to them rather than repeating them (the document would be
# 360 KiB larger).
RESPONSE_NAMES = {
    400: "BadRequest", 401: "Unauthenticated", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
    413: "TooLarge", 422: "InvalidRequest", 429: "RateLimited", 500: "ServerError", 502: "BadGateway",
    503: "Unavailable", 504: "GatewayTimeout",
}


@dataclass
class RouteFacts:
    """What a route's signature says about the refusals it can answer."""

    department: bool = False  # a department's access token
    holder: bool = False  # a holder's session token
    scopes: set[str] = field(default_factory=set)
    rate_limited: bool = False
    parameters: bool = False
    body: bool = False
    path_parameters: bool = False


def operation_id(route: APIRoute | RouteContext) -> str:
    """The operation id and the name of generated body schemas: the route
    function's name, unique across the app (the test checks)."""
    return route.name


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` by the post-processed document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                                   description=app.description, routes=app.routes)
            app.openapi_schema = truthful(document, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = _error_schema()
    schemas[TOKEN_ERROR_SCHEMA] = _token_error_schema()
    components.setdefault("securitySchemes", {})[OAUTH2] = _oauth2_scheme()
    components["responses"] = {name: _response(status, ERROR_SCHEMA, codes_for(status))
                               for status, name in RESPONSE_NAMES.items()}
    examples = _load_examples()
    for route in _routes(app):
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            facts = route_facts(route)
            operation["operationId"] = operation_id(route)
            _security(operation, facts)
            _error_responses(operation, route, facts)
            _request_example(operation, examples.get(operation_id(route)))
    components["securitySchemes"].pop("HTTPBearer", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _one_title_each(schemas)
    return document


def _routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every documented API route as the app serves it (an included router's
    routes with the router's prefix and dependencies)."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            yield route


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def route_facts(route: RouteContext) -> RouteFacts:
    facts = RouteFacts(rate_limited=route.name in CHARGED_IN_WORK,
                       scopes=set(SCOPES_CHECKED_IN_WORK.get(route.name, ())))
    for dependant in [route.dependant, *_dependants(route.dependant)]:
        call = dependant.call
        if isinstance(call, DepartmentBearer):
            facts.department = True
            facts.scopes.update(getattr(call, "scopes", ()))
        elif isinstance(call, HTTPBearer):
            facts.holder = True
        facts.scopes.update(getattr(call, REQUIRED_SCOPES, ()))
        facts.rate_limited |= getattr(call, RATE_LIMIT_BUCKET, None) is not None
        facts.path_parameters |= bool(dependant.path_params)
        facts.parameters |= bool(dependant.path_params or dependant.query_params or dependant.header_params
                                 or dependant.cookie_params)
        facts.body |= bool(dependant.body_params)
    return facts


def _security(operation: dict[str, Any], facts: RouteFacts) -> None:
    requirements = [r for r in operation.get("security", []) if "HTTPBearer" not in r]
    if requirements == [{"HTTPBasic": []}]:  # the token endpoint: Basic, or the client's fields in the form
        requirements.append({})
    if facts.department:
        # A department system's access token, or a signed-in staff member's
        # session (its scopes are those of the person's roles: docs/clients.md).
        requirements[:0] = [{OAUTH2: sorted(facts.scopes)}, {STAFF_SESSION: []}]
    if requirements:
        operation["security"] = requirements
    else:
        operation.pop("security", None)


def statuses_for(route: RouteContext, facts: RouteFacts) -> set[int]:
    """The error statuses an operation can answer."""
    statuses = {503}  # the database or the cache out of reach: any route that reads either
    if facts.department or facts.holder:
        statuses |= {401, 403, 404}  # 404: another's object is not shown to exist
    if facts.parameters or facts.body:
        statuses.add(422)
    if facts.path_parameters:
        statuses.add(404)
    if facts.body:
        statuses |= {400, 409, 413}
    if facts.rate_limited:
        statuses.add(429)
    if route.methods and route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
        statuses |= {400, 409}
    return statuses | EXTRA_STATUSES.get(route.name, set())


# Refusals a route's signature cannot show: its service calls another system
# (502/504), signs with a stored key (500 when it no longer decrypts), or
# authenticates in its body (401).
EXTRA_STATUSES: dict[str, set[int]] = {
    "open_session": {401, 404},  # an ID token refused; OpenID sign-in not configured
    "dev_login": {404},  # not a demo deployment
    "open_staff_session": {401, 404},  # an ID token refused; staff OpenID sign-in not configured
    "demo_staff_session": {404},  # not a demo deployment, or no such demo staff member
    "attach_to_my_dispute": {413, 422},  # the file is the raw body, read by the route
}
# Conditional GETs answering 304 to a current If-None-Match (SPEC: RFC 9110 §15.4.5).
NOT_MODIFIED = frozenset({"get_status_list"})


def _error_responses(operation: dict[str, Any], route: RouteContext, facts: RouteFacts) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's HTTPValidationError: never sent
    if route.name == TOKEN_OPERATION:
        responses["400"] = _response(400, TOKEN_ERROR_SCHEMA, ["invalid_request", "unsupported_grant_type",
                                                                "invalid_scope"])
        responses["401"] = _response(401, TOKEN_ERROR_SCHEMA, ["invalid_client"])
        responses["413"] = _response(413, ERROR_SCHEMA, codes_for(413))
        responses["503"] = _response(503, ERROR_SCHEMA, codes_for(503))
        return
    if route.name in NOT_MODIFIED:
        responses["304"] = {"description": "Not Modified: the If-None-Match ETag is still current"}
    for status in sorted(statuses_for(route, facts)):
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{RESPONSE_NAMES[status]}"})


def codes_for(status: int) -> list[str]:
    """The `error` codes that can come with a status, from the one table."""
    codes = {getattr(cls, "code", "error") for cls, mapped in ERROR_STATUS if mapped == status}
    if status in CODE_BY_STATUS:
        codes.add(CODE_BY_STATUS[status])
    if status == 422:
        codes.add("invalid_request")  # certhub.errors._validation_error
    if status == 503:
        codes |= {CACHE_UNAVAILABLE[0], DATABASE_UNAVAILABLE[0]}
    return sorted(c for c in codes if isinstance(c, str))


def _response(status: int, schema: str, codes: list[str]) -> dict[str, Any]:
    example: dict[str, str] = {"error": codes[0] if codes else "error", "message": _DESCRIPTIONS[status]}
    if schema == TOKEN_ERROR_SCHEMA:
        example["error_description"] = example["message"]
    return {
        "description": f"{_DESCRIPTIONS[status]}. `error` is one of: {', '.join(codes)}",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"},
                                         "example": example}},
    }


def _error_schema() -> dict[str, Any]:
    return {
        "title": ERROR_SCHEMA,
        "type": "object",
        "description": "Every refusal's body (certhub/errors.py)",
        "properties": {
            "error": {"type": "string", "description": "a stable machine-readable code"},
            "message": {"type": "string", "description": "text for a person"},
        },
        "required": ["error", "message"],
    }


def _token_error_schema() -> dict[str, Any]:
    return {
        "title": TOKEN_ERROR_SCHEMA,
        "type": "object",
        "description": "The token endpoint's refusals (SPEC: RFC 6749 §5.2), with the house `message`",
        "properties": {
            "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "unsupported_grant_type",
                                                 "invalid_scope"]},
            "error_description": {"type": "string"},
            "message": {"type": "string"},
        },
        "required": ["error", "error_description", "message"],
    }


def _oauth2_scheme() -> dict[str, Any]:
    return {
        "type": "oauth2",
        "description": "A department client's access token, from the client credentials grant "
                       "(client_secret_basic, client_secret_post or private_key_jwt: docs/clients.md)",
        "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": dict(KNOWN_SCOPES)}},
    }


def _load_examples() -> dict[str, Any]:
    return json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))


def _request_example(operation: dict[str, Any], example: Any) -> None:
    body = operation.get("requestBody")
    if body is None or example is None:
        return
    for media_type, content in body.get("content", {}).items():
        if media_type in {"application/json", "application/x-www-form-urlencoded"}:
            content["example"] = example


def _one_title_each(schemas: dict[str, Any]) -> None:
    """Give each schema its own title: FastAPI's split `X-Input` / `X-Output`
    pair keeps the model's name for what clients send and becomes `XRead`
    for what they receive."""
    titles = {name: schema.get("title", name) for name, schema in schemas.items()}
    for name, schema in schemas.items():
        if name.endswith("-Output"):
            schema["title"] = titles[name] + "Read"
        elif name.endswith("-Input"):
            schema["title"] = titles[name]
    seen: dict[str, str] = {}
    for name, schema in schemas.items():
        title = schema.get("title", name)
        if title in seen:
            raise ValueError(f"schemas {seen[title]} and {name} share the title {title}")
        seen[title] = name
