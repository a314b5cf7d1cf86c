"""Disputes (异议/纠错): the holder or a department's clerk says a face field
of a licence is wrong; the issuing department (or one it authorized)
accepts — a corrected new version, through the lifecycle's `change` — or
rejects with a reason, before a deadline.

Every transition locks the dispute row first, so two racing decisions on
one dispute never both win, and lands in the dispute's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from catalog.service import licence_types
from registry.errors import DisputeClosed, DisputeNotFound, InvalidDispute, LicenceNotFound, NotIssuer, TooManyDisputes
from registry.models import DisputeEvent, DisputeStatus, Licence, LicenceDispute, LicenceStatus
from registry.service import lifecycle
from registry.service.authority import Actor, check_may_manage
from registry.service.issue import Signer
from registry.service.reads import LicenceView
from registry.service.reads import get as get_view
from storage.base import utcnow
from storage.units import write_lock

MAX_REASON = 2000
MAX_PROPOSED_VALUE = 2000
MAX_OPEN_PER_LICENCE = 20  # bounds what one disputer can pile onto a licence
MAX_PAGE = 200
DEFAULT_DEADLINE = timedelta(days=15)
LISTABLE = ("open", "overdue", DisputeStatus.ACCEPTED, DisputeStatus.REJECTED)
# Lists show each dispute's licence identifier: load the licences in one go, without their versions.
_WITH_LICENCE = selectinload(LicenceDispute.licence).lazyload(Licence.versions)


@dataclass(frozen=True)
class Disputer:
    """Who raises a dispute: the holder themself, or a department's clerk."""

    kind: str  # "holder" or "department"
    code: str  # the holder code, or the department's USCC
    client_id: str | None = None
    operator: str | None = None

    @classmethod
    def holder(cls, holder_code: str) -> Disputer:
        return cls(kind="holder", code=holder_code)

    @classmethod
    def department(cls, actor: Actor) -> Disputer:
        return cls(kind="department", code=actor.department_code, client_id=actor.client_id, operator=actor.operator)


class UseHistory(Protocol):
    """What the authorized-use log says a department was given (the log is
    exchange's; the registry asks through this seam, catalog.access)."""

    def has_used(self, *, session: Session, department_code: str, subject_code: str,
                 licence_ids: Sequence[str]) -> bool:
        """Whether a granted use by the department names one of the licence ids."""


def disputable_by_department(
    *, session: Session, identifier: str, department_code: str, uses: UseHistory, now: datetime | None = None,
) -> LicenceView:
    """The licence a department's clerk may dispute: one it has a legitimate
    interest in, i.e. it issues or manages it, or the log shows it was given
    the licence (a query answered or a 亮证 code redeemed, both logged as
    granted uses by that department).

    Anything else, including no such licence, is the same LicenceNotFound
    with the same message, so a stranger learns nothing of whether the
    identifier exists (nor can it pile disputes onto licences it never saw).
    """
    # One message whatever the identifier: the same body for every refusal.
    absent = LicenceNotFound("no licence with this identifier that this department may dispute")
    view = get_view(session=session, identifier=identifier)
    if view is None:
        raise absent
    licence = view.licence
    try:
        check_may_manage(session=session, acting=department_code, issuer_code=licence.issuer_code,
                         type_code=licence.type_code, now=now or utcnow())
        return view
    except NotIssuer:
        pass
    identifiers = [licence.base_identifier, *(v.identifier for v in licence.versions)]
    if uses.has_used(session=session, department_code=department_code, subject_code=licence.holder_code,
                     licence_ids=identifiers):
        return view
    raise absent


def _text(value: str | None, *, name: str, limit: int, required: bool) -> str | None:
    value = (value or "").strip() or None
    if value is None:
        if required:
            raise InvalidDispute(f"{name} is required", field=name)
        return None
    if len(value) > limit:
        raise InvalidDispute(f"{name}: at most {limit} characters", field=name)
    if any(ord(ch) < 0x20 and ch not in "\n\t" for ch in value):
        raise InvalidDispute(f"{name}: control characters are not allowed", field=name)
    return value


def open_dispute(
    *,
    session: Session,
    view: LicenceView,
    disputer: Disputer,
    field: str,
    reason: str,
    proposed_value: str | None = None,
    deadline: timedelta = DEFAULT_DEADLINE,
    now: datetime | None = None,
) -> LicenceDispute:
    """Raise a dispute of one face field of a live licence; the issuer must
    decide by now + `deadline`. Who may raise it is the caller's check."""
    moment = now or utcnow()
    why = _text(reason, name="reason", limit=MAX_REASON, required=True)
    proposed = _text(proposed_value, name="proposed_value", limit=MAX_PROPOSED_VALUE, required=False)
    write_lock(session=session)
    # The licence lock orders this against changes and bounds open disputes exactly.
    licence = lifecycle.lock_licence(session=session, identifier=view.version.identifier)
    if licence.status not in (LicenceStatus.VALID, LicenceStatus.SUSPENDED):
        raise InvalidDispute(f"licence {licence.base_identifier} is {licence.status}; it can no longer be corrected",
                             field="identifier")
    licence_type = licence_types.get_or_raise(session=session, code=licence.type_code, version=licence.type_version)
    keys = [f["key"] for f in licence_type.fields]
    if field not in keys:
        raise InvalidDispute(f"field: {field!r} is not a field of {licence_type.name} (fields: {', '.join(keys)})",
                             field="field")
    already = session.execute(select(func.count()).select_from(LicenceDispute).where(
        LicenceDispute.licence_id == licence.id, LicenceDispute.status == DisputeStatus.OPEN)).scalar_one()
    if already >= MAX_OPEN_PER_LICENCE:
        raise TooManyDisputes(f"licence {licence.base_identifier} already has {already} open disputes")
    dispute = LicenceDispute(
        licence_id=licence.id, version=view.version.version, issuer_code=licence.issuer_code,
        holder_code=licence.holder_code, holder_code_type=licence.holder_code_type, field=field, reason=why,
        proposed_value=proposed, raised_by=disputer.kind, raised_by_code=disputer.code, client_id=disputer.client_id,
        operator=disputer.operator, status=DisputeStatus.OPEN, due_at=moment + deadline, created_at=moment,
    )
    session.add(dispute)
    session.flush()
    _record(session=session, dispute=dispute, action="open", from_status=None, kind=disputer.kind, code=disputer.code,
            client_id=disputer.client_id, operator=disputer.operator, reason=why, at=moment)
    return dispute


def get_or_raise(*, session: Session, dispute_id: int) -> LicenceDispute:
    dispute = session.get(LicenceDispute, dispute_id)
    if dispute is None:
        raise DisputeNotFound(f"dispute {dispute_id} not found")
    return dispute


def _decidable(*, session: Session, actor: Actor, dispute_id: int, now: datetime) -> LicenceDispute:
    write_lock(session=session)
    dispute = session.scalar(select(LicenceDispute).where(LicenceDispute.id == dispute_id).with_for_update())
    if dispute is None:
        raise DisputeNotFound(f"dispute {dispute_id} not found")
    licence = session.get_one(Licence, dispute.licence_id)
    check_may_manage(session=session, acting=actor.department_code, issuer_code=licence.issuer_code,
                     type_code=licence.type_code, now=now)
    if dispute.status != DisputeStatus.OPEN:
        raise DisputeClosed(f"dispute {dispute_id} was already {dispute.status}")
    return dispute


def accept(
    *,
    session: Session,
    actor: Actor,
    dispute_id: int,
    value: Any,
    signer: Signer,
    reason: str | None = None,
    now: datetime | None = None,
) -> LicenceDispute:
    """Correct the disputed field to `value` (the department's, which may
    differ from what was proposed; null removes an optional field): a new
    sealed version, through the same path as every change."""
    moment = now or utcnow()
    why = _text(reason, name="reason", limit=MAX_REASON, required=False)
    dispute = _decidable(session=session, actor=actor, dispute_id=dispute_id, now=moment)
    licence = session.get_one(Licence, dispute.licence_id)
    current = lifecycle.current_version(session=session, licence=licence)
    if current.face.get(dispute.field) == value:
        raise InvalidDispute("value: equals the field's current value; reject the dispute instead", field="value")
    note = f"纠错 (dispute {dispute.id}, {dispute.field})" + (f": {why}" if why else "")
    version = lifecycle.change(session=session, actor=actor, identifier=current.identifier, face={dispute.field: value},
                               reason=note, signer=signer, now=moment)
    _decide(session=session, dispute=dispute, to=DisputeStatus.ACCEPTED, actor=actor, reason=why, at=moment)
    dispute.corrected_version = version.version
    session.flush()
    return dispute


def reject(
    *, session: Session, actor: Actor, dispute_id: int, reason: str, now: datetime | None = None
) -> LicenceDispute:
    """Keep the licence as it is; the reason is shown to whoever disputed."""
    moment = now or utcnow()
    why = _text(reason, name="reason", limit=MAX_REASON, required=True)
    dispute = _decidable(session=session, actor=actor, dispute_id=dispute_id, now=moment)
    _decide(session=session, dispute=dispute, to=DisputeStatus.REJECTED, actor=actor, reason=why, at=moment)
    session.flush()
    return dispute


def _decide(*, session: Session, dispute: LicenceDispute, to: str, actor: Actor, reason: str | None,
            at: datetime) -> None:
    before = dispute.status
    dispute.status = to
    dispute.decided_at = at
    dispute.decided_by = actor.department_code
    dispute.decision_reason = reason
    _record(session=session, dispute=dispute, action="accept" if to == DisputeStatus.ACCEPTED else "reject",
            from_status=before, kind="department", code=actor.department_code, client_id=actor.client_id,
            operator=actor.operator, reason=reason, at=at)


def _record(*, session: Session, dispute: LicenceDispute, action: str, from_status: str | None, kind: str, code: str,
            client_id: str | None, operator: str | None, reason: str | None, at: datetime) -> None:
    session.add(DisputeEvent(dispute_id=dispute.id, action=action, from_status=from_status, to_status=dispute.status,
                             actor_kind=kind, actor_code=code, client_id=client_id, operator=operator, reason=reason,
                             at=at))
    session.flush()


def is_overdue(dispute: LicenceDispute, *, now: datetime | None = None) -> bool:
    return dispute.status == DisputeStatus.OPEN and dispute.due_at < (now or utcnow())


def list_for_department(
    *, session: Session, department_code: str, status: str | None = None, limit: int = 100,
    now: datetime | None = None,
) -> list[LicenceDispute]:
    """Disputes of the department's licences: "open" (all undecided),
    "overdue" (undecided past their deadline), "accepted", "rejected" or
    every one; oldest deadline first."""
    query = select(LicenceDispute).where(LicenceDispute.issuer_code == department_code).options(_WITH_LICENCE)
    if status is not None:
        if status not in LISTABLE:
            raise InvalidDispute(f"status: one of {', '.join(LISTABLE)}", field="status")
        stored = DisputeStatus.OPEN if status == "overdue" else status
        query = query.where(LicenceDispute.status == stored)
        if status == "overdue":
            query = query.where(LicenceDispute.due_at < (now or utcnow()))
    return list(session.scalars(query.order_by(LicenceDispute.due_at, LicenceDispute.id).limit(min(limit, MAX_PAGE))))


def list_for_holder(
    *, session: Session, holder_code: str, holder_code_type: str, limit: int = 100
) -> list[LicenceDispute]:
    """Every dispute about the holder's licences (whoever raised it), newest first."""
    return list(session.scalars(
        select(LicenceDispute).where(LicenceDispute.holder_code == holder_code,
                                     LicenceDispute.holder_code_type == holder_code_type)
        .options(_WITH_LICENCE).order_by(LicenceDispute.id.desc()).limit(min(limit, MAX_PAGE))
    ))


def history(*, session: Session, dispute: LicenceDispute) -> list[DisputeEvent]:
    return list(session.scalars(
        select(DisputeEvent).where(DisputeEvent.dispute_id == dispute.id).order_by(DisputeEvent.id)
    ))
