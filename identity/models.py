"""The API clients departments' systems authenticate as, their public keys,
and the client assertions already used (replay protection)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class ApiClient(Base):
    """A department's system that calls the API (OAuth 2.0 client)."""

    __tablename__ = "catalog_api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    department_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # How the client proves itself at the token endpoint (RFC 7591 §2
    # token_endpoint_auth_method): "client_secret" or "private_key_jwt".
    # Only the registered method is accepted.
    auth_method: Mapped[str] = mapped_column(String(20), default="client_secret", server_default="client_secret")


class ApiClientKey(Base):
    """A public key a private_key_jwt client signs its assertions with
    (RFC 7523 §2.2). Rotation: add the new key, then retire the old one;
    revocation refuses a compromised key at once."""

    __tablename__ = "catalog_api_client_keys"
    __table_args__ = (UniqueConstraint("client_id", "kid"), UniqueConstraint("client_id", "thumbprint"))

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("catalog_api_clients.client_id", ondelete="CASCADE"), index=True
    )
    kid: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(10))  # ES256 | EdDSA
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # DER SubjectPublicKeyInfo
    thumbprint: Mapped[str] = mapped_column(String(43))  # RFC 7638, base64url SHA-256
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Retired keys stop working at not_after (a grace period during rotation).
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ClientAssertionUse(Base):
    """A client assertion's jti, kept until the assertion expires: the
    durable half of replay protection (the cache is the fast half)."""

    __tablename__ = "catalog_client_assertion_uses"
    __table_args__ = (UniqueConstraint("client_id", "jti_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    jti_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the jti
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
