"""Who may present which licences: small composable policies, each with
`check(request) -> None` raising when it does not allow the request. An
empty policy denies (docs/architecture.md, conventions 5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from registry.errors import LicenceNotFound, ProxyNotAllowed
from registry.models import Delegation, Licence
from registry.service import delegations


@dataclass
class PresentRequest:
    """The holder acting (`actor_code`), for whom (`principal_code`: the same
    holder, or the one they are proxy for), and the licences they named."""

    session: Session
    actor_code: str
    principal_code: str
    licences: Sequence[Licence]
    now: datetime
    principal_code_type: str | None = None  # known when the holder acts for themselves
    delegation: Delegation | None = None  # set by ActsForPrincipal when a proxy acts


class Policy(Protocol):
    def check(self, request: PresentRequest) -> None: ...


class AllOf:
    """Every policy must allow; with no policies, nothing is allowed."""

    def __init__(self, *policies: Policy) -> None:
        self._policies = policies

    def check(self, request: PresentRequest) -> None:
        if not self._policies:
            raise ProxyNotAllowed("no presentation policy is configured")
        for policy in self._policies:
            policy.check(request)


class LicencesOfPrincipal:
    """Every licence named belongs to the principal. Another holder's licence
    and an unknown identifier get the same answer, "not found": nothing leaks."""

    def check(self, request: PresentRequest) -> None:
        for licence in request.licences:
            if licence.holder_code != request.principal_code or (
                request.principal_code_type is not None and licence.holder_code_type != request.principal_code_type
            ):
                raise LicenceNotFound("a licence named is not among the holder's licences")


class ActsForPrincipal:
    """The actor is the principal, or their proxy with an active delegation to
    present every licence type named."""

    def check(self, request: PresentRequest) -> None:
        if request.actor_code == request.principal_code:
            return
        found = None
        for type_code in sorted({licence.type_code for licence in request.licences}):
            found = delegations.check_proxy(
                session=request.session, proxy_code=request.actor_code, principal_code=request.principal_code,
                action="present", type_code=type_code, now=request.now,
            )
        if found is None:
            raise ProxyNotAllowed("a proxy presents at least one licence under a delegation")
        request.delegation = found


PRESENTATION_POLICY = AllOf(LicencesOfPrincipal(), ActsForPrincipal())
