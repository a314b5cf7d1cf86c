"""The verifier's table: one row per OpenID4VP authorization request a relying party made.

The row is the request's whole state: what was asked (the DCQL query), the
nonce and state the wallet must answer with, and, once answered, the verdict
and the claims the holder disclosed. It is answered once: the response
endpoint locks the row and moves it out of `pending` in the same transaction
that logs the use, so a replayed response finds it answered and is refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow


class RequestStatus:
    PENDING = "pending"
    VERIFIED = "verified"
    REFUSED = "refused"


class VpRequest(Base):
    __tablename__ = "registry_vp_requests"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)  # the request_uri's last segment, 256 random bits
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    department_code: Mapped[str] = mapped_column(String(18))
    purpose: Mapped[str] = mapped_column(String(200))
    matter_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dcql_query: Mapped[dict] = mapped_column(JSONType)
    nonce: Mapped[str] = mapped_column(String(43), unique=True)
    state: Mapped[str] = mapped_column(String(43))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default=RequestStatus.PENDING)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # {credential query id: {"vct", "issuer", "claims": {disclosed claims}, "status"}} once verified.
    result: Mapped[dict | None] = mapped_column(JSONType, nullable=True)
