"""Catalog tables: departments, licence types (versioned), data items, matters,
and the API clients departments' systems authenticate as."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Department(Base):
    __tablename__ = "catalog_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(
        String(18), ForeignKey("catalog_departments.code"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class LicenceType(Base):
    """One version of a licence type. A changed definition is a new row; the
    licences issued under an older version keep pointing at it."""

    __tablename__ = "catalog_licence_types"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(21), index=True)
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    name: Mapped[str] = mapped_column(String(200))
    # The English name wallets show beside the Chinese one (the SD-JWT VC type metadata); optional.
    name_en: Mapped[str | None] = mapped_column(String(200), nullable=True)
    holder_kind: Mapped[str] = mapped_column(String(20))
    fields: Mapped[list] = mapped_column(JSONType)
    validity: Mapped[dict] = mapped_column(JSONType)
    dependents: Mapped[list] = mapped_column(JSONType, default=list)
    layout_template: Mapped[str] = mapped_column(String(40), default="default")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LicenceTypeIssuer(Base):
    """Which departments may issue a licence type (not versioned)."""

    __tablename__ = "catalog_licence_type_issuers"
    __table_args__ = (UniqueConstraint("type_code", "department_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type_code: Mapped[str] = mapped_column(String(21), index=True)
    department_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"))


class DataItem(Base):
    """A shared data resource (GB/T 21063 resource record)."""

    __tablename__ = "catalog_data_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"))
    abstract: Mapped[str] = mapped_column(Text, default="")
    subject_kind: Mapped[str] = mapped_column(String(20))
    fields: Mapped[list] = mapped_column(JSONType)
    sharing_attribute: Mapped[str] = mapped_column(String(20))
    sharing_conditions: Mapped[str | None] = mapped_column(Text, nullable=True)
    not_shared_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    open_attribute: Mapped[str] = mapped_column(String(20), default="not_open")
    update_cycle: Mapped[str] = mapped_column(String(20))
    adapter_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    adapter_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Matter(Base):
    """A government service matter (事项) and the materials it needs."""

    __tablename__ = "catalog_matters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    materials: Mapped[list[Material]] = relationship(
        back_populates="matter", cascade="all, delete-orphan", order_by="Material.position"
    )
    situations: Mapped[list[Situation]] = relationship(
        back_populates="matter", cascade="all, delete-orphan", order_by="Situation.position"
    )


class Material(Base):
    __tablename__ = "catalog_materials"
    __table_args__ = (UniqueConstraint("matter_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("catalog_matters.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    # licence_type | data_item | commitment | paper
    satisfied_kind: Mapped[str] = mapped_column(String(20))
    satisfied_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    commitment_template: Mapped[str | None] = mapped_column(Text, nullable=True)

    matter: Mapped[Matter] = relationship(back_populates="materials")


class Situation(Base):
    __tablename__ = "catalog_situations"
    __table_args__ = (UniqueConstraint("matter_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("catalog_matters.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    material_keys: Mapped[list] = mapped_column(JSONType)

    matter: Mapped[Matter] = relationship(back_populates="situations")


class RelyingParty(Base):
    """A relying party outside the exchange (a hotel, a bank, a telecom shop) that asks holders'
    wallets for credentials (OpenID4VP, registry/oid4vp). It authenticates as its API client; its
    organisation is a registered department, the code its uses are logged under. It may ask for
    the claims `allowed` names, per licence type, and states one purpose the holder is shown."""

    __tablename__ = "catalog_relying_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), ForeignKey("catalog_api_clients.client_id"), unique=True)
    department_code: Mapped[str] = mapped_column(String(18), ForeignKey("catalog_departments.code"))
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(200))
    # {licence type code: [claim name, ...]}: the most it may ask for.
    allowed: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
