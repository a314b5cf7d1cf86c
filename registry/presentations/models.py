"""Tables of 亮证: presentations (one-time codes) and their redemptions (one
row per code, unique: the database's guarantee of one-time use). Holder
delegations (proxies acting for a holder within a scope) are in registry.models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from registry.models import Delegation, DelegationStatus
from storage.base import Base, UTCDateTime, utcnow

# Delegations are registry tables (registry.service reads them too); named here beside the presentations that use them.
__all__ = ["Delegation", "DelegationStatus", "Presentation", "Redemption"]


class Presentation(Base):
    """One 亮证 code as handed out: whose licences, what disclosure, until when.
    Hash-partitioned by id on PostgreSQL (docs/partitioning.md)."""

    __tablename__ = "registry_presentations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the QR's cti
    holder_code: Mapped[str] = mapped_column(String(18), index=True)
    holder_code_type: Mapped[str] = mapped_column(String(3))
    proxy_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    delegation_id: Mapped[int | None] = mapped_column(ForeignKey("registry_delegations.id"), nullable=True)
    licence_identifiers: Mapped[list] = mapped_column(JSONType)
    disclosure: Mapped[str] = mapped_column(String(8))
    kid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The newer code for one of these licences that replaced this one (one live code per licence).
    superseded_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The digits a clerk types when the QR cannot be scanned (redeem.redeem_short_code); not unique (0024).
    short_code: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)


class Redemption(Base):
    """A code redeemed at a counter. The unique presentation id is what makes
    a code one-time even when the cache forgets it; a presentation with no
    such row has not been redeemed."""

    __tablename__ = "registry_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    presentation_id: Mapped[str] = mapped_column(ForeignKey("registry_presentations.id"), unique=True)
    department_code: Mapped[str] = mapped_column(String(18), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[str] = mapped_column(String(64))
    matter_code: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(200))
    case_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
