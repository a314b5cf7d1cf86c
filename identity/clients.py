"""API clients: a department's system authenticating with client credentials.

Secrets are 256-bit random tokens, so a salted SHA-256 (as for API keys) is
enough to store them: there is no low-entropy password to stretch.

A private_key_jwt client has no secret at all: it registers public keys and
signs its own assertions (identity.client_assertions). Each client has one
registered method and only that method is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from identity.client_assertions import (
    AUTH_METHODS,
    CLIENT_SECRET,
    PRIVATE_KEY_JWT,
    InvalidClientKey,
    check_kid,
    key_state,
    parse_public_key,
)
from identity.errors import DuplicateRegistration, InvalidClient, InvalidRegistration, UnknownClient
from identity.models import ApiClient, ApiClientKey
from identity.scopes import validate_scopes
from storage.base import utcnow

_HASH_SCHEME = "sha256"
# Stored in place of a hash when the client has no secret: no input matches it.
NO_SECRET = "!"
MAX_KEYS_PER_CLIENT = 10
MAX_REASON_LENGTH = 200


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None  # shown once, never stored; None for private_key_jwt clients
    department_code: str
    scopes: list[str]
    auth_method: str = CLIENT_SECRET


def _hash_secret(secret: str, *, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()
    return f"{_HASH_SCHEME}${salt}${digest}"


def _secret_matches(secret: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt, _, _ = rest.partition("$")
    if scheme != _HASH_SCHEME or not salt:
        return False
    return hmac.compare_digest(_hash_secret(secret, salt=salt), stored)


def create(
    *, session: Session, department_code: str, name: str, scopes: list[str], auth_method: str = CLIENT_SECRET
) -> NewClient:
    scopes = validate_scopes(scopes)
    if auth_method not in AUTH_METHODS:
        raise InvalidRegistration(f"auth method must be one of: {', '.join(AUTH_METHODS)}")
    client_id = f"{department_code.lower()}-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32) if auth_method == CLIENT_SECRET else None
    client = ApiClient(
        client_id=client_id,
        department_code=department_code,
        name=name,
        secret_hash=_hash_secret(secret, salt=secrets.token_hex(8)) if secret else NO_SECRET,
        scopes=scopes,
        auth_method=auth_method,
    )
    try:
        # The department's existence is the catalog's to know (identity may
        # not import it); its foreign key says so, in a savepoint of its own.
        with session.begin_nested():
            session.add(client)
            session.flush()
    except IntegrityError:
        raise UnknownClient(f"department {department_code} not found") from None
    return NewClient(client_id=client_id, client_secret=secret, department_code=department_code, scopes=scopes,
                     auth_method=auth_method)


def get_or_raise(*, session: Session, client_id: str, department_code: str | None = None,
                 lock: bool = False) -> ApiClient:
    """The client; with `department_code`, only one of that department's own: another
    department's client answers as if there were none (its existence does not leak)."""
    query = select(ApiClient).where(ApiClient.client_id == client_id)
    if department_code is not None:
        query = query.where(ApiClient.department_code == department_code)
    client = session.scalar(query.with_for_update() if lock else query)
    if client is None:
        raise UnknownClient(f"client {client_id} not found")
    return client


def list_(*, session: Session, department_code: str | None = None) -> list[ApiClient]:
    query = select(ApiClient).order_by(ApiClient.client_id)
    if department_code:
        query = query.where(ApiClient.department_code == department_code)
    return list(session.scalars(query))


def authenticate(*, session: Session, client_id: str, client_secret: str) -> ApiClient:
    """Check client credentials; one error for every failure so callers learn nothing."""
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if (
        client is None
        or not client.active
        or client.auth_method != CLIENT_SECRET
        or not _secret_matches(client_secret, client.secret_hash)
    ):
        raise InvalidClient("client authentication failed")
    client.last_used_at = utcnow()
    return client


def deactivate(*, session: Session, client_id: str, department_code: str | None = None) -> ApiClient:
    """Disable a client for good (its tokens stop counting: token_revocations); with
    `department_code`, only one of that department's own."""
    client = get_or_raise(session=session, client_id=client_id, department_code=department_code, lock=True)
    client.active = False
    session.flush()
    return client


def use_private_key_jwt(*, session: Session, client_id: str, now: datetime | None = None) -> ApiClient:
    """Switch a secret client to private_key_jwt: its secret is erased, for
    good. Refused until the client has a usable key, so it is never locked out."""
    client = _locked(session=session, client_id=client_id)
    if client.auth_method == PRIVATE_KEY_JWT:
        return client
    now = now or utcnow()
    if not any(key_state(k, now=now) in {"active", "retiring"} for k in list_keys(session=session, client_id=client_id)):
        raise InvalidRegistration(f"client {client_id} has no usable key yet: add one first (certhub clients add-key)")
    client.auth_method, client.secret_hash = PRIVATE_KEY_JWT, NO_SECRET
    session.flush()
    return client


def rotate_secret(*, session: Session, client_id: str, department_code: str) -> tuple[ApiClient, str]:
    """A new secret for one of the department's own secret clients: the old
    one stops working at the token endpoint at once (tokens already issued
    run to their expiry; disable the client to end them too). The secret is
    returned once, only its hash is kept. Locked: two rotations at once
    leave one secret, the one whose answer came last."""
    client = get_or_raise(session=session, client_id=client_id, department_code=department_code, lock=True)
    if not client.active:
        raise InvalidRegistration(f"client {client_id} is disabled; a disabled client gets no new secret")
    if client.auth_method != CLIENT_SECRET:
        raise InvalidRegistration(f"client {client_id} signs in with its keys (private_key_jwt), not a secret")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = _hash_secret(secret, salt=secrets.token_hex(8))
    session.flush()
    return client, secret


def _locked(*, session: Session, client_id: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id).with_for_update())
    if client is None:
        raise UnknownClient(f"client {client_id} not found")
    return client


def add_key(*, session: Session, client_id: str, public_key: str, kid: str | None = None) -> ApiClientKey:
    """Register a public key (PEM or JWK). Its kid is the one given, else
    the JWK's own, else the RFC 7638 thumbprint."""
    client = _locked(session=session, client_id=client_id)  # serialises concurrent additions to one client
    parsed = parse_public_key(public_key)
    kid = check_kid(kid or parsed.kid_hint or parsed.thumbprint)
    existing = list_keys(session=session, client_id=client.client_id)
    if any(k.thumbprint == parsed.thumbprint for k in existing):
        raise DuplicateRegistration(f"this public key is already registered for client {client_id}")
    if any(k.kid == kid for k in existing):
        raise DuplicateRegistration(f"client {client_id} already has a key {kid}")
    live = [k for k in existing if k.revoked_at is None and k.not_after is None]
    if len(live) >= MAX_KEYS_PER_CLIENT:
        raise InvalidClientKey(f"a client may have at most {MAX_KEYS_PER_CLIENT} active keys; retire one first")
    key = ApiClientKey(client_id=client.client_id, kid=kid, algorithm=parsed.algorithm, public_key=parsed.spki_der,
                       thumbprint=parsed.thumbprint, created_at=utcnow())
    session.add(key)
    session.flush()
    return key


def list_keys(*, session: Session, client_id: str) -> list[ApiClientKey]:
    query = select(ApiClientKey).where(ApiClientKey.client_id == client_id).order_by(ApiClientKey.id)
    return list(session.scalars(query))


def get_key_or_raise(*, session: Session, client_id: str, kid: str) -> ApiClientKey:
    key = session.scalar(
        select(ApiClientKey).where(ApiClientKey.client_id == client_id, ApiClientKey.kid == kid).with_for_update()
    )
    if key is None:
        raise UnknownClient(f"client {client_id} has no key {kid}")
    return key


def retire_key(*, session: Session, client_id: str, kid: str, at: datetime | None = None) -> ApiClientKey:
    """End a key at `at` (default now) after rotating to a new one. Refused
    when it would leave a private_key_jwt client with no usable key."""
    now = utcnow()
    at = at or now
    key = get_key_or_raise(session=session, client_id=client_id, kid=kid)
    if key.revoked_at is not None:
        raise InvalidRegistration(f"key {kid} is revoked already")
    _keep_one_usable(session=session, client_id=client_id, leaving=key, now=now)
    key.not_after = at if key.not_after is None else min(key.not_after, at)
    session.flush()
    return key


def revoke_key(*, session: Session, client_id: str, kid: str, reason: str) -> ApiClientKey:
    """Refuse a (compromised) key at once. Always allowed, even for the last key."""
    reason = reason.strip()
    if not 0 < len(reason) <= MAX_REASON_LENGTH:
        raise InvalidRegistration(f"a revocation reason of 1-{MAX_REASON_LENGTH} characters is required")
    key = get_key_or_raise(session=session, client_id=client_id, kid=kid)
    if key.revoked_at is None:
        key.revoked_at, key.revocation_reason = utcnow(), reason
    session.flush()
    return key


def _keep_one_usable(*, session: Session, client_id: str, leaving: ApiClientKey, now: datetime) -> None:
    client = _locked(session=session, client_id=client_id)
    if client.auth_method != PRIVATE_KEY_JWT:
        return
    others = session.scalar(
        select(func.count()).select_from(ApiClientKey).where(
            ApiClientKey.client_id == client_id, ApiClientKey.id != leaving.id, ApiClientKey.revoked_at.is_(None),
            ApiClientKey.not_after.is_(None),
        )
    )
    if not others:
        raise InvalidRegistration(f"key {leaving.kid} is the client's last active key: add its successor first (or revoke it)")
