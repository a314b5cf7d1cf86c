"""Push subscriptions and the dispatcher's cursor over the licence history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow


class Subscription(Base):
    """A department's standing request to be told about licence events."""

    __tablename__ = "exchange_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))  # the client that created it
    callback_url: Mapped[str] = mapped_column(String(2000))
    event_kinds: Mapped[list] = mapped_column(JSONType)  # e.g. ["issued", "revoked"]
    licence_type_codes: Mapped[list] = mapped_column(JSONType)
    # The webhook signing secret is derived from the deployment secret and
    # this salt (HKDF), never stored; a new salt rotates it.
    secret_salt: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DispatchCursor(Base):
    """How far the dispatcher has read the licence history (outbox pattern).

    `gaps` holds event ids below the cursor not seen yet, with when they
    were first missed: on PostgreSQL ids are handed out at insert and
    committed out of order, so a lower id can appear after a higher one.
    """

    __tablename__ = "exchange_dispatch_cursors"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)  # the use log's entry ids are 64-bit
    gaps: Mapped[dict] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
