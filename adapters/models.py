"""The adapters' tables: webhook deliveries, federated documents' last good
copies, and data-return tickets with their deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow


class WebhookDelivery(Base):
    """One event for one subscriber; retried on a schedule until delivered or dead."""

    __tablename__ = "adapters_webhook_deliveries"
    # The same event is enqueued once per subscriber: enqueueing is idempotent.
    __table_args__ = (
        UniqueConstraint("event_id", "subscriber_key"),
        Index("ix_adapters_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_adapters_webhook_deliveries_channel_due", "channel", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    subscriber_key: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict] = mapped_column(JSONType)
    # Who sends it: "webhook" (a signed JSON POST) or "web_push" (an RFC 8291
    # encrypted push message); each channel's worker takes only its own rows.
    channel: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class FederatedDocument(Base):
    """The last good copy of another registry's published document."""

    __tablename__ = "adapters_federated_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    etag: Mapped[str | None] = mapped_column(String(500), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ReturnTicket(Base):
    """A city's request for its slice of a provincial dataset (数据回流)."""

    __tablename__ = "adapters_return_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_code: Mapped[str] = mapped_column(String(40), ForeignKey("catalog_data_items.code"), index=True)
    requester_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    provider_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"), index=True)
    bureau_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"))
    purpose: Mapped[str] = mapped_column(Text)
    target_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(24), default="requested")
    legal_basis: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    bureau_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    bureau_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ReturnDelivery(Base):
    """One delivery of a ticket's slice (the first full, later only changes)."""

    __tablename__ = "adapters_return_deliveries"
    __table_args__ = (UniqueConstraint("ticket_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("adapters_return_tickets.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    rows_sent: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(71))  # "sha256:" + hex
    watermark: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
    location: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReturnRowHash(Base):
    """What a ticket last sent for each row key, for the row-hash diff used
    when the dataset has no updated_at column."""

    __tablename__ = "adapters_return_row_hashes"
    __table_args__ = (UniqueConstraint("ticket_id", "row_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("adapters_return_tickets.id"))
    row_key: Mapped[str] = mapped_column(String(200))
    row_hash: Mapped[str] = mapped_column(String(64))
