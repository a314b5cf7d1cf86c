"""Registry tables: e-licences, their sealed versions, their history, what
keeps issuing consistent (serial counters, idempotency keys, status lists),
and holder delegations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow

# Licence dates (issue date, validity) are calendar dates in China Standard Time.
CHINA_TIME = timezone(timedelta(hours=8), "CST")


class LicenceStatus:
    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"  # 吊销/撤销: taken away by the issuer
    CANCELLED = "cancelled"  # 注销: ended at the holder's request or by joint cancellation
    EXPIRED = "expired"

    ALL = (VALID, SUSPENDED, REVOKED, CANCELLED, EXPIRED)
    FINAL = (REVOKED, CANCELLED, EXPIRED)


class HolderCodeType:
    CITIZEN_ID = "111"  # 居民身份证号
    USCC = "001"  # 统一社会信用代码


class StatusList(Base):
    """One IETF Token Status List (2 bits per licence); the registry's status-list
    key (in signing's key store and the trust list) signs it."""

    __tablename__ = "registry_status_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[int] = mapped_column(Integer, default=2)
    allocated: Mapped[int] = mapped_column(Integer, default=0)  # how many indices are taken
    # One bit per index, set once the index is given to a licence (bit i of byte i // 8,
    # least significant first): indices are drawn at random, so which are free is kept here.
    allocation: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # grows with every change: the ETag
    token: Mapped[str] = mapped_column(Text)  # the signed statuslist+jwt as last published
    kid: Mapped[str] = mapped_column(String(16))  # of the key that signed `token`
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # DER SPKI of that key (also in the trust list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Licence(Base):
    """One e-licence. On PostgreSQL the table is hash-partitioned by holder
    code (migration 0027): its unique constraints below, and the id the
    other tables' foreign keys name, are then kept by the unpartitioned
    ``registry_licence_keys`` (docs/partitioning.md); SQLite keeps them here."""

    __tablename__ = "registry_licences"
    __table_args__ = (
        UniqueConstraint("type_code", "issuer_code", "serial"),
        UniqueConstraint("status_list_id", "status_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_identifier: Mapped[str] = mapped_column(String(100), unique=True)
    type_code: Mapped[str] = mapped_column(String(21), index=True)
    type_version: Mapped[int] = mapped_column(Integer)
    issuer_code: Mapped[str] = mapped_column(String(18), index=True)
    serial: Mapped[str] = mapped_column(String(30))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_code: Mapped[str] = mapped_column(String(18), index=True)
    holder_code_type: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=LicenceStatus.VALID, index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    status_list_id: Mapped[int] = mapped_column(ForeignKey("registry_status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    versions: Mapped[list[LicenceVersion]] = relationship(
        back_populates="licence", order_by="LicenceVersion.version", lazy="selectin"
    )

    # The licence's rule on expiry, in one place: its validity has ended once
    # its last valid day (valid_until, China time) is before `today`, that is
    # from 00:00 China time of the next day on; a permanent licence (no
    # valid_until) never ends. The expiry job selects by it, issuing refuses
    # or stores as expired by it (`status_at_issue`), presenting, redeeming
    # and answering a query read it at the moment they run (`expired_at`).
    @hybrid_method
    def validity_ended(self, today: date) -> bool:
        return _validity_ended(self.valid_until, today)

    @validity_ended.inplace.expression  # type: ignore[attr-defined]  # mypy sees the wrapped function, not the hybrid_method
    @classmethod
    def _validity_ended_expression(cls, today: date):
        return cls.valid_until < today  # NULL (permanent) is never before a day

    def expired_at(self, moment: datetime) -> bool:
        """Whether its validity has ended at `moment` (an aware datetime)."""
        return Licence.validity_ended_at(valid_until=self.valid_until, moment=moment)

    @staticmethod
    def validity_ended_at(*, valid_until: date | None, moment: datetime) -> bool:
        """`expired_at` for a licence read as plain values (redemption reads
        no ORM object on its hot path)."""
        return _validity_ended(valid_until, moment.astimezone(CHINA_TIME).date())

    @staticmethod
    def end_of_validity(valid_until: date | None) -> datetime | None:
        """The first instant a validity ending on `valid_until` has ended:
        00:00 China time of the next day; None for a permanent licence."""
        if valid_until is None:
            return None
        return datetime.combine(valid_until + timedelta(days=1), time(0), tzinfo=CHINA_TIME)

    def status_at(self, moment: datetime) -> str:
        """The status at `moment`: a live licence whose validity has ended
        reads expired before the expiry job has recorded it."""
        if self.status in (LicenceStatus.VALID, LicenceStatus.SUSPENDED) and self.expired_at(moment):
            return LicenceStatus.EXPIRED
        return self.status

    @staticmethod
    def status_at_issue(*, valid_until: date | None, today: date) -> str:
        """Valid, or expired for a licence whose validity had ended before it
        was registered (a historic licence brought in by 归集)."""
        return LicenceStatus.EXPIRED if _validity_ended(valid_until, today) else LicenceStatus.VALID


def _validity_ended(valid_until: date | None, today: date) -> bool:
    return valid_until is not None and valid_until < today


class LicenceVersion(Base):
    """One sealed version. A change adds a version; old ones stay, superseded.

    Hash-partitioned by licence id on PostgreSQL; the identifier's uniqueness
    is then kept by ``registry_licence_version_keys`` (docs/partitioning.md)."""

    __tablename__ = "registry_licence_versions"
    __table_args__ = (UniqueConstraint("licence_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("registry_licences.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    identifier: Mapped[str] = mapped_column(String(110), unique=True)
    face: Mapped[dict] = mapped_column(JSONType)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    record: Mapped[dict] = mapped_column(JSONType)  # the GB/T 36902-style catalog record that was sealed
    signature: Mapped[str] = mapped_column(Text)  # SealSignature.to_json()
    es_id: Mapped[str] = mapped_column(String(64))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    licence: Mapped[Licence] = relationship(back_populates="versions")


class LicenceEvent(Base):
    """History (GOV.UK Notify style): every transition, with who, when and why."""

    __tablename__ = "registry_licence_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("registry_licences.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    acting_department_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operator: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SerialCounter(Base):
    """The last serial given per (licence type, issuer); locked while issuing."""

    __tablename__ = "registry_serial_counters"
    __table_args__ = (UniqueConstraint("type_code", "issuer_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type_code: Mapped[str] = mapped_column(String(21))
    issuer_code: Mapped[str] = mapped_column(String(18))
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    """An Idempotency-Key a department sent with an issue request."""

    __tablename__ = "registry_idempotency_keys"
    __table_args__ = (UniqueConstraint("department_code", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_code: Mapped[str] = mapped_column(String(18))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    licence_id: Mapped[int | None] = mapped_column(ForeignKey("registry_licences.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LicenceCopy(Base):
    """A purpose-limited copy (加注件) handed out, and to whom."""

    __tablename__ = "registry_licence_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("registry_licences.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(18))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DisputeStatus:
    OPEN = "open"
    ACCEPTED = "accepted"  # the issuer corrected the licence: a new version
    REJECTED = "rejected"

    ALL = (OPEN, ACCEPTED, REJECTED)


class LicenceDispute(Base):
    """A dispute (异议/纠错) of one face field, raised by the holder or a
    department's clerk, decided by the issuer before `due_at`.

    Issuer and holder are copied from the licence (they never change) so
    the department's and the holder's lists need no join.
    """

    __tablename__ = "registry_licence_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("registry_licences.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the version the disputer saw
    issuer_code: Mapped[str] = mapped_column(String(18), index=True)
    holder_code: Mapped[str] = mapped_column(String(18), index=True)
    holder_code_type: Mapped[str] = mapped_column(String(3))
    field: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    proposed_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    raised_by: Mapped[str] = mapped_column(String(16))  # "holder" or "department"
    raised_by_code: Mapped[str] = mapped_column(String(18))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operator: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=DisputeStatus.OPEN, index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(18), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    corrected_version: Mapped[int | None] = mapped_column(Integer, nullable=True)

    licence: Mapped[Licence] = relationship()


class DisputeEvent(Base):
    """History of a dispute: raised, accepted, rejected — who, when, why."""

    __tablename__ = "registry_dispute_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("registry_licence_disputes.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))  # "holder" or "department"
    actor_code: Mapped[str] = mapped_column(String(18))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operator: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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


class DisputeAttachment(Base):
    """Evidence a holder attaches to their dispute (a photo of the paper, a
    PDF from another office): bounded in size, type and number
    (registry.service.dispute_attachments); kept with the dispute for the
    issuer who decides it."""

    __tablename__ = "registry_dispute_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("registry_licence_disputes.id", ondelete="CASCADE"), index=True)
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
