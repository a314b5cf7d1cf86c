"""Who may receive what: small composable policies over one item access.

Each policy's ``check(access)`` returns None or raises a ``Refusal`` with a
machine code. ``AllOf`` needs every member, ``AnyOf`` one; both deny when
empty. The policies that grant also fill in the access: the agreements
that set the fields, and the legal basis the log records.

The exchange's rule (``STANDARD``), in order:
1. the subject is of the kind that holds the item (``subject_kind_mismatch``);
2. the catalog shares the item at all (``item_not_shared``);
3. an approved, unexpired agreement covers the consumer, item and matter,
   and every field asked for (``no_agreement``, ``agreement_pending``,
   ``agreement_expired``, ``agreement_revoked``, ``matter_not_agreed``,
   ``field_not_agreed``);
4. and one basis: unconditional sharing of a data item, the holder's
   consent (``consent_missing``, ``consent_withdrawn``, ``consent_expired``,
   ``delegation_ended``),
   or a supervision mandate for the matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Row
from sqlalchemy.orm import Session

from exchange.agreements import service as agreements
from exchange.agreements.items import SharedItem
from exchange.agreements.models import AgreementStatus
from exchange.consent import service as consents
from exchange.errors import Refusal
from exchange.mandates import service as mandates

DEPARTMENT_QUERY = "department_query"
SUPERVISION_ACCESS = "supervision_access"


class NotApplicable(Refusal):
    """This way in does not apply (no mandate, not unconditional): when every
    alternative fails, ``AnyOf`` reports a refusal that says more."""


@dataclass
class ItemAccess:
    """One department asking for one item of one subject, for one matter."""

    session: Session
    consumer_code: str
    subject_code: str
    subject_code_type: str
    matter_code: str
    item: SharedItem
    requested_fields: Sequence[str] | None
    now: datetime
    # Filled in by the policies that grant:
    agreements: list[Row] = field(default_factory=list)  # terms, as agreements.service.for_item reads them
    basis: str | None = None
    kind: str = DEPARTMENT_QUERY
    # Set by a covert supervision mandate: the use's record hides it from the holder until then.
    embargo_until: datetime | None = None


class Policy(Protocol):
    def check(self, access: ItemAccess) -> None: ...


class AllOf:
    def __init__(self, *policies: Policy) -> None:
        self.policies = policies

    def check(self, access: ItemAccess) -> None:
        if not self.policies:
            raise Refusal("no_policy", "no policy allows this access")
        for policy in self.policies:
            policy.check(access)


class AnyOf:
    def __init__(self, *policies: Policy) -> None:
        self.policies = policies

    def check(self, access: ItemAccess) -> None:
        refusals: list[Refusal] = []
        for policy in self.policies:
            try:
                policy.check(access)
                return
            except Refusal as refusal:
                refusals.append(refusal)
        if not refusals:
            raise Refusal("no_policy", "no policy allows this access")
        telling = [r for r in refusals if not isinstance(r, NotApplicable)]
        raise (telling or refusals)[0]


class SubjectHoldsItemKind:
    def check(self, access: ItemAccess) -> None:
        if access.subject_code_type != access.item.holder_code_type:
            raise Refusal("subject_kind_mismatch",
                          f"{access.item.name} is held by a {access.item.holder_kind}, not by this subject")


class ItemShared:
    def check(self, access: ItemAccess) -> None:
        if access.item.sharing_attribute == "not_shared":
            raise Refusal("item_not_shared", f"不予共享: {access.item.not_shared_reason}")


class AgreementCovers:
    """Approved agreements in their period naming the matter; the union of
    their fields must include every field asked for."""

    def check(self, access: ItemAccess) -> None:
        rows = agreements.for_item(session=access.session, consumer_code=access.consumer_code,
                                   item_code=access.item.code)
        active = [a for a in rows if agreements.is_active(a, now=access.now)]
        if not active:
            raise _why_none_active(rows, now=access.now)
        covering = [a for a in active if access.matter_code in a.matters]
        if not covering:
            raise Refusal("matter_not_agreed", "the agreement does not cover this matter")
        agreed = {key for a in covering for key in a.fields}
        outside = [f for f in (access.requested_fields or ()) if f not in agreed]
        if outside:
            raise Refusal("field_not_agreed", f"field {outside[0]!r} is outside the agreed fields")
        access.agreements = covering


def _why_none_active(rows: list[Row], *, now: datetime) -> Refusal:
    statuses = {agreements.effective_status(a, now=now) for a in rows}
    if "expired" in statuses:
        return Refusal("agreement_expired", "the sharing agreement has expired; apply again")
    if AgreementStatus.REVOKED in statuses:
        return Refusal("agreement_revoked", "the provider revoked the sharing agreement")
    if AgreementStatus.PENDING in statuses:
        return Refusal("agreement_pending", "the provider has not decided on the application yet")
    return Refusal("no_agreement", "no sharing agreement covers this item for the department")


class UnconditionalSharing:
    def check(self, access: ItemAccess) -> None:
        if access.item.sharing_attribute != "unconditional":
            raise NotApplicable("not_unconditional", "the item is not shared unconditionally")
        access.basis = "unconditional_sharing"


class HolderConsent:
    def check(self, access: ItemAccess) -> None:
        consent = consents.covering(
            session=access.session, holder_code=access.subject_code, department_code=access.consumer_code,
            matter_code=access.matter_code, item_code=access.item.code, now=access.now,
        )
        access.basis = f"consent:{consent.public_id}"


class SupervisionMandate:
    def check(self, access: ItemAccess) -> None:
        mandate = mandates.covering(session=access.session, department_code=access.consumer_code,
                                    matter_code=access.matter_code, now=access.now)
        if mandate is None:
            raise NotApplicable("no_mandate", "the department holds no supervision mandate for this matter")
        access.basis = "supervision_mandate"
        access.kind = SUPERVISION_ACCESS
        access.embargo_until = mandate.embargo_until


STANDARD: Policy = AllOf(
    SubjectHoldsItemKind(),
    ItemShared(),
    AgreementCovers(),
    AnyOf(UnconditionalSharing(), HolderConsent(), SupervisionMandate()),
)
