"""SQLAlchemy tables of the signing package (all prefixed `signing_`).

signing may import nothing else of certhub, so it owns its declarative base,
`SigningBase`; the application's migrations include `SigningBase.metadata`.
Timestamps are timezone-aware UTC on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from signing.statuses import AuthorizationStatus, KeyPurpose, KeyStatus, SealStatus

__all__ = [
    "SigningBase", "SigningKey", "SealMaker", "Seal", "SealSuspension", "CrossLevelAuthorization",
    "TrustListIssuance", "DocumentCertificate", "KeyPurpose", "KeyStatus", "SealStatus", "AuthorizationStatus", "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class SigningBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class SigningKey(SigningBase):
    __tablename__ = "signing_keys"
    __table_args__ = (UniqueConstraint("public_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Not unique: 8-byte kids may collide; lookups try every match.
    kid: Mapped[str] = mapped_column(String(16), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # DER SPKI
    encrypted_private_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The PKCS#11 object's CKA_ID (hex) when the private half lives in a token (signing.hsm); then no envelope.
    token_object: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=KeyStatus.ACTIVE)
    seal_id: Mapped[int | None] = mapped_column(ForeignKey("signing_seals.id"), nullable=True, index=True)
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("signing_seal_makers.id"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SealMaker(SigningBase):
    """The platform seal authority (制章者); its SM2 key signs seal structures."""

    __tablename__ = "signing_seal_makers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # DER X.509, self-issued
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The maker's SM2 key points here (not the other way round) so that the
    # foreign keys form no cycle.
    keys: Mapped[list[SigningKey]] = relationship(order_by=SigningKey.id, lazy="selectin")


class Seal(SigningBase):
    __tablename__ = "signing_seals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    es_id: Mapped[str] = mapped_column(String(64), unique=True)
    seal_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    owner_department_code: Mapped[str] = mapped_column(String(18), index=True)
    # Licence type codes this seal may seal; ["*"] means any.
    licence_type_codes: Mapped[list[str]] = mapped_column(JSON)
    picture_png: Mapped[bytes] = mapped_column(LargeBinary)
    picture_width_mm: Mapped[int] = mapped_column(Integer)
    picture_height_mm: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=SealStatus.ACTIVE)
    maker_id: Mapped[int] = mapped_column(ForeignKey("signing_seal_makers.id"))
    der: Mapped[bytes] = mapped_column(LargeBinary)  # GB/T 38540 SESeal, maker-signed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    maker: Mapped[SealMaker] = relationship(lazy="joined", innerjoin=True)
    keys: Mapped[list[SigningKey]] = relationship(order_by=SigningKey.id, lazy="selectin")
    suspensions: Mapped[list[SealSuspension]] = relationship(
        order_by="SealSuspension.id", lazy="selectin"
    )


class SealSuspension(SigningBase):
    """One suspension period; `resumed_at` is empty while it lasts."""

    __tablename__ = "signing_seal_suspensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("signing_seals.id"), index=True)
    suspended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class CrossLevelAuthorization(SigningBase):
    """跨层级签章: the seal's owner lets `grantee_department_code` sign with it."""

    __tablename__ = "signing_cross_level_authorizations"
    __table_args__ = (Index("ix_signing_cross_level_authorizations_grantee", "grantee_department_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("signing_seals.id"), index=True)
    grantee_department_code: Mapped[str] = mapped_column(String(18))
    licence_type_codes: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=AuthorizationStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    seal: Mapped[Seal] = relationship(lazy="joined", innerjoin=True)


class TrustListIssuance(SigningBase):
    """Each signed trust list published; the sequence grows by one per registry."""

    __tablename__ = "signing_trust_list_issuances"
    __table_args__ = (UniqueConstraint("registry_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_id: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    content_digest: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_json: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentCertificate(SigningBase):
    """An X.509 certificate the registry issued to one of its keys for PDF
    signatures (signing/x509docs.py), kept so that every document a key signs
    carries the same certificate. The root's own is the row whose key is its issuer."""

    __tablename__ = "signing_document_certificates"
    __table_args__ = (UniqueConstraint("key_id", "issuer_key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id"), index=True)
    issuer_key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id"))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
