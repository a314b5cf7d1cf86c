"""Tables of 亮证: presentations (one-time codes), their redemptions (one row
per code, unique: the database's guarantee of one-time use) and holder
delegations (proxies acting for a holder within a scope)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow


class DelegationStatus:
    ACTIVE = "active"
    REVOKED = "revoked"


class Delegation(Base):
    """A holder (the principal) lets another holder (the proxy: guardian,
    agent, family member) act for them: on listed licence types, for listed
    actions, within a period."""

    __tablename__ = "registry_delegations"
    __table_args__ = (Index("ix_registry_delegations_proxy_principal", "proxy_code", "principal_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_code: Mapped[str] = mapped_column(String(18), index=True)
    principal_code_type: Mapped[str] = mapped_column(String(3))
    proxy_code: Mapped[str] = mapped_column(String(18))
    proxy_code_type: Mapped[str] = mapped_column(String(3))
    relation: Mapped[str] = mapped_column(String(16))
    type_codes: Mapped[list] = mapped_column(JSONType)
    actions: Mapped[list] = mapped_column(JSONType)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=DelegationStatus.ACTIVE)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Presentation(Base):
    """One 亮证 code as handed out: whose licences, what disclosure, until when."""

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
