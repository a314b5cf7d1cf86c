"""Web Push tables: holders' push subscriptions and the hub's VAPID key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow


class WebPushSubscription(Base):
    """One browser's subscription (PushSubscription, W3C Push API) for one
    holder: where to push and the keys to encrypt to (RFC 8291 §3). Deleted
    when the holder unsubscribes or the push service answers 404 or 410."""

    __tablename__ = "exchange_web_push_subscriptions"
    __table_args__ = (UniqueConstraint("endpoint"), Index("ix_exchange_web_push_subscriptions_holder", "holder_code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_code: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(1000))
    p256dh: Mapped[str] = mapped_column(String(100))  # the user agent's P-256 public key, base64url
    auth: Mapped[str] = mapped_column(String(40))  # the 16-byte authentication secret, base64url
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebPushKey(Base):
    """The hub's VAPID key pair (RFC 8292): made at first start, its private
    half kept in the same AES-256-GCM envelope under the deployment secret as
    signing keys (signing.keys.encrypt_private_key). Not a signing key of
    the registry: it is not in the trust list, it only signs the push
    service's authorisation tokens."""

    __tablename__ = "exchange_web_push_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(100))  # uncompressed P-256 point, base64url: applicationServerKey
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
