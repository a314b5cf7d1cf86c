"""HTTP API of identity: the OAuth token endpoint department clients start
from, and the admin's management of their clients' keys."""

from __future__ import annotations

import abc
import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from identity import client_assertions, clients
from identity.client_assertions import MAX_ASSERTION_LENGTH
from identity.config import IdentityConfig
from identity.deps import get_token_authority, require_scopes
from identity.errors import InvalidClient, TokenRequestRefused
from identity.scopes import KNOWN_SCOPES
from identity.tokens import Principal, TokenAuthority
from storage.base import utcnow
from storage.cache import Cache
from storage.sessions import SessionDep, get_cache
from wiring import optional_service, service

oauth_router = APIRouter(prefix="/api/v1/oauth", tags=["auth"])
well_known_router = APIRouter(tags=["auth"])

Admin = Annotated[Principal, Depends(require_scopes("catalog:admin"))]
_basic = HTTPBasic(auto_error=False)


class ClientKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # PEM text ("-----BEGIN PUBLIC KEY-----...") or a public JWK object.
    public_key: str | dict = Field(description="PEM SubjectPublicKeyInfo text or a public JWK (P-256 or Ed25519)")
    kid: str | None = Field(default=None, max_length=64, description="default: the JWK's kid, else its RFC 7638 thumbprint")


class ClientKeyRetire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = Field(default=None, description="when the key stops working; default now")


class ClientKeyRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)


class ClientAuthMethodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auth_method: Literal["private_key_jwt"]


class ClientKeyOut(BaseModel):
    kid: str
    algorithm: str
    thumbprint: str
    state: str  # active | retiring | retired | revoked
    created_at: datetime
    not_after: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    last_used_at: datetime | None
    jwk: dict


# Bounds of the token request's form fields, checked by the route itself so
# that a field out of bounds is refused the OAuth way (400 invalid_request),
# not with the API's 422.
_FIELD_LIMITS = {"grant_type": 64, "pre-authorized_code": 128, "tx_code": 16, "client_id": 64, "client_secret": 200, "client_assertion_type": 100,
                 "client_assertion": MAX_ASSERTION_LENGTH, "scope": 1000}
GRANT_TYPES = ("client_credentials",)
# SPEC: OpenID4VCI 1.0 §4.1.1, §6.1 — a wallet trades an offer's code for a token, no client authentication.
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


class PreAuthorizedCodeGrant(abc.ABC):
    """Who redeems the pre-authorized codes of credential offers (the registry's issuance): identity
    serves the one token endpoint, the offers belong to the licences."""

    @abc.abstractmethod
    def redeem(self, *, pre_authorized_code: str | None, tx_code: str | None) -> dict:
        """The token response (RFC 6749 §5.1), or TokenRequestRefused (invalid_grant...)."""
# SPEC: RFC 8414 §2 token_endpoint_auth_methods_supported, named as in the IANA registry.
TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


def _bounded(name: str, value: str | None) -> str | None:
    if value is not None and len(value) > _FIELD_LIMITS[name]:
        raise TokenRequestRefused("invalid_request", f"{name} is longer than {_FIELD_LIMITS[name]} characters")
    return value


@oauth_router.post("/token")
def issue_token(
    config: Annotated[IdentityConfig, service(IdentityConfig)],
    session: SessionDep,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    client_assertion_type: Annotated[str | None, Form()] = None,
    client_assertion: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
    pre_authorized_code: Annotated[str | None, Form(alias="pre-authorized_code")] = None,
    tx_code: Annotated[str | None, Form()] = None,
    pre_authorized: Annotated[PreAuthorizedCodeGrant | None, optional_service(PreAuthorizedCodeGrant)] = None,
    basic: HTTPBasicCredentials | None = Depends(_basic),
    authority: TokenAuthority = Depends(get_token_authority),
    cache: Cache = Depends(get_cache),
) -> dict:
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4). The client
    authenticates with HTTP Basic or form fields (§2.3.1), or with a signed
    JWT assertion (private_key_jwt, RFC 7523 §2.2) — exactly one of them.
    A wallet redeems a credential offer's pre-authorized code here too
    (OpenID4VCI 1.0 §6.1). Refusals are RFC 6749 §5.2 errors (`error`,
    `error_description`)."""
    fields = {"grant_type": grant_type, "client_id": client_id, "client_secret": client_secret,
              "client_assertion_type": client_assertion_type, "client_assertion": client_assertion, "scope": scope,
              "pre-authorized_code": pre_authorized_code, "tx_code": tx_code}
    for name, value in fields.items():
        _bounded(name, value)
    if not grant_type:  # SPEC: RFC 6749 §5.2 invalid_request: a required parameter is missing
        raise TokenRequestRefused("invalid_request", "grant_type is required")
    if grant_type == PRE_AUTHORIZED_GRANT and pre_authorized is not None:
        return pre_authorized.redeem(pre_authorized_code=pre_authorized_code, tx_code=tx_code)
    if grant_type not in GRANT_TYPES:
        raise TokenRequestRefused("unsupported_grant_type", "only client_credentials is supported")
    try:
        client, operator, key_id = _authenticated_client(
            config=config, session=session, cache=cache, basic=basic, client_id=client_id,
            client_secret=client_secret, client_assertion_type=client_assertion_type,
            client_assertion=client_assertion)
    except InvalidClient as exc:
        raise TokenRequestRefused("invalid_client", str(exc), basic=basic is not None) from None
    granted = set(client.scopes)
    if scope:
        asked = set(scope.split())
        if not asked <= granted:
            raise TokenRequestRefused("invalid_scope",
                                      f"not granted to this client: {', '.join(sorted(asked - granted))}")
        granted = asked
    token = authority.issue(client_id=client.client_id, department_code=client.department_code,
                            scopes=sorted(granted), operator=operator, key_id=key_id)
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": authority.ttl_seconds,
        "scope": " ".join(sorted(granted)),
    }


def _authenticated_client(
    *, config: IdentityConfig, session, cache: Cache, basic: HTTPBasicCredentials | None, client_id: str | None,
    client_secret: str | None, client_assertion_type: str | None, client_assertion: str | None,
):
    """The client and, for an assertion, its operator and key id (InvalidClient if none)."""
    if client_assertion is not None or client_assertion_type is not None:
        # SPEC: RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        if basic is not None or client_secret is not None:
            raise InvalidClient("use one client authentication method: a secret or an assertion, not both")
        verified = client_assertions.verify_client_assertion(
            session=session, cache=cache, assertion=client_assertion or "",
            assertion_type=client_assertion_type or "", registry_id=config.registry_id,
        )
        # SPEC: RFC 7521 §4.2: a client_id sent alongside must identify the same client.
        if client_id is not None and client_id != verified.client.client_id:
            raise InvalidClient("client_id differs from the assertion's subject")
        return verified.client, verified.operator, verified.key.kid
    if basic is not None:
        if client_secret is not None:  # SPEC: RFC 6749 §2.3 (one method per request)
            raise InvalidClient("use one client authentication method: HTTP Basic or form fields, not both")
        client_id, client_secret = basic.username, basic.password
    if not client_id or not client_secret:
        raise InvalidClient("client_id and client_secret (or client_assertion) are required")
    return clients.authenticate(session=session, client_id=client_id, client_secret=client_secret), None, None


@well_known_router.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata(
    config: Annotated[IdentityConfig, service(IdentityConfig)],
    pre_authorized: Annotated[PreAuthorizedCodeGrant | None, optional_service(PreAuthorizedCodeGrant)] = None,
) -> dict:
    """SPEC: RFC 8414 §2, §3: what a client needs to ask this server for a
    token, at the issuer's well-known URL (the issuer is the registry id)."""
    issuer = config.registry_id.rstrip("/")
    return {
        "issuer": issuer,
        "token_endpoint": issuer + client_assertions.TOKEN_ENDPOINT_PATH,
        "grant_types_supported": [*GRANT_TYPES, *([PRE_AUTHORIZED_GRANT] if pre_authorized is not None else [])],
        # No authorization endpoint: client credentials only, so no response type is served.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": list(TOKEN_ENDPOINT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(client_assertions.SUPPORTED_ALGORITHMS),
        "scopes_supported": sorted(KNOWN_SCOPES),
        # Not registered by RFC 8414: how far ahead a client assertion's exp may lie.
        "client_assertion_max_lifetime_seconds": int(client_assertions.MAX_LIFETIME.total_seconds()),
        "service_documentation": issuer + "/docs",
        # SPEC: OpenID4VCI 1.0 §12.3 — a wallet need not be a registered client to redeem an offer.
        **({"pre-authorized_grant_anonymous_access_supported": True} if pre_authorized is not None else {}),
    }


# -- client keys (private_key_jwt): admin only --------------------------------


def _key_out(key) -> ClientKeyOut:
    return ClientKeyOut(
        kid=key.kid, algorithm=key.algorithm, thumbprint=key.thumbprint,
        state=client_assertions.key_state(key, now=utcnow()), created_at=key.created_at,
        not_after=key.not_after, revoked_at=key.revoked_at, revocation_reason=key.revocation_reason,
        last_used_at=key.last_used_at, jwk=client_assertions.public_jwk(key),
    )


@oauth_router.get("/clients/{client_id}/keys", response_model=list[ClientKeyOut])
def list_client_keys(client_id: str, session: SessionDep, _: Admin):
    clients.get_or_raise(session=session, client_id=client_id)
    return [_key_out(k) for k in clients.list_keys(session=session, client_id=client_id)]


@oauth_router.post("/clients/{client_id}/keys", response_model=ClientKeyOut, status_code=201)
def add_client_key(client_id: str, body: ClientKeyIn, session: SessionDep, _: Admin):
    text = body.public_key if isinstance(body.public_key, str) else json.dumps(body.public_key)
    return _key_out(clients.add_key(session=session, client_id=client_id, public_key=text, kid=body.kid))


@oauth_router.post("/clients/{client_id}/keys/{kid}/retire", response_model=ClientKeyOut)
def retire_client_key(client_id: str, kid: str, body: ClientKeyRetire, session: SessionDep, _: Admin):
    return _key_out(clients.retire_key(session=session, client_id=client_id, kid=kid, at=body.at))


@oauth_router.post("/clients/{client_id}/keys/{kid}/revoke", response_model=ClientKeyOut)
def revoke_client_key(client_id: str, kid: str, body: ClientKeyRevoke, session: SessionDep, _: Admin):
    return _key_out(clients.revoke_key(session=session, client_id=client_id, kid=kid, reason=body.reason))


@oauth_router.post("/clients/{client_id}/auth-method")
def set_client_auth_method(client_id: str, body: ClientAuthMethodIn, session: SessionDep, _: Admin) -> dict:
    """Move a secret client to private_key_jwt (the secret is erased)."""
    client = clients.use_private_key_jwt(session=session, client_id=client_id)
    return {"client_id": client.client_id, "auth_method": client.auth_method}


@oauth_router.post("/clients/{client_id}/disable")
def disable_client(client_id: str, session: SessionDep, _: Admin) -> dict:
    """Disable a client for good: it gets no more tokens, and those it holds
    stop counting (identity.token_revocations)."""
    clients.deactivate(session=session, client_id=client_id)
    return {"client_id": client_id, "active": False}
