"""API clients: a department's system authenticating with client credentials.

Secrets are 256-bit random tokens, so a salted SHA-256 (as for API keys) is
enough to store them: there is no low-entropy password to stretch.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import utcnow
from catalog.errors import InvalidClient, NotFound
from catalog.models import ApiClient
from catalog.scopes import validate_scopes
from catalog.service import departments

_HASH_SCHEME = "sha256"


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str  # shown once, never stored
    department_code: str
    scopes: list[str]


def _hash_secret(secret: str, *, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()
    return f"{_HASH_SCHEME}${salt}${digest}"


def _secret_matches(secret: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt, _, _ = rest.partition("$")
    if scheme != _HASH_SCHEME or not salt:
        return False
    return hmac.compare_digest(_hash_secret(secret, salt=salt), stored)


def create(*, session: Session, department_code: str, name: str, scopes: list[str]) -> NewClient:
    department = departments.get_or_raise(session=session, code=department_code)
    scopes = validate_scopes(scopes)
    client_id = f"{department.code.lower()}-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiClient(
            client_id=client_id,
            department_code=department.code,
            name=name,
            secret_hash=_hash_secret(secret, salt=secrets.token_hex(8)),
            scopes=scopes,
        )
    )
    session.flush()
    return NewClient(client_id=client_id, client_secret=secret, department_code=department.code, scopes=scopes)


def get_or_raise(*, session: Session, client_id: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        raise NotFound(f"client {client_id} not found")
    return client


def list_(*, session: Session, department_code: str | None = None) -> list[ApiClient]:
    query = select(ApiClient).order_by(ApiClient.client_id)
    if department_code:
        query = query.where(ApiClient.department_code == department_code)
    return list(session.scalars(query))


def authenticate(*, session: Session, client_id: str, client_secret: str) -> ApiClient:
    """Check client credentials; one error for every failure so callers learn nothing."""
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None or not client.active or not _secret_matches(client_secret, client.secret_hash):
        raise InvalidClient("client authentication failed")
    client.last_used_at = utcnow()
    return client


def deactivate(*, session: Session, client_id: str) -> None:
    client = get_or_raise(session=session, client_id=client_id)
    client.active = False
