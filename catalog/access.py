"""The seam through which lower packages record data use without importing
the log.

Registry and exchange routes that hand out licence or shared data record
each use in the authorized-use log (exchange.auditlog). The registry may not
import exchange (docs/architecture.md), so the composition root registers an
object satisfying ``AccessRecorder`` as a service (``wiring``) and routes
reach it through ``AccessRecorderDep``. A deployment without one refuses to
serve data: fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from catalog.errors import CatalogError
from wiring import MissingService, find_service


class AccessLogMissing(CatalogError):
    """No use log is wired into this app, so no data may be served."""

    code = "log_unavailable"


@runtime_checkable  # registered and found by this type (wiring.Services)
class AccessRecorder(Protocol):
    def check_serving(self, *, session: Session) -> None:
        """Raise (a LogUnavailable) when data must not be served now."""

    def record(
        self,
        *,
        session: Session,
        kind: str,
        department_code: str,
        operator_id: str,
        basis: str,
        result: str = "granted",
        reason_code: str | None = None,
        subject_code: str | None = None,
        licence_ids: Sequence[str] = (),
        data_items: Sequence[str] = (),
        fields: Sequence[str] = (),
        matter_code: str | None = None,
        purpose: str | None = None,
        case_number: str | None = None,
        request_hash: str | None = None,
    ) -> object:
        """Write one use record in ``session``'s transaction (what comes back
        identifies it); a granted use is refused (raises) while the log is not healthy."""

    def has_used(self, *, session: Session, department_code: str, subject_code: str,
                 licence_ids: Sequence[str]) -> bool:
        """Whether a granted use by the department (a query answered, a code
        redeemed) names one of ``licence_ids``: the interest that lets it
        dispute a licence (registry.service.disputes)."""

    def record_all(self, *, session: Session, uses: Sequence[Mapping[str, Any]]) -> int:
        """Write the records of one request (``record``'s keyword arguments
        each, without the session) together, all or none, in one statement
        where they fit; the count. Refused like ``record`` when any is granted."""


def access_recorder(request: Request) -> AccessRecorder:
    """The app's recorder (AccessLogMissing when there is none): for the
    routes that reach it in their worker thread instead of as a dependency."""
    try:
        return find_service(request, AccessRecorder)  # type: ignore[type-abstract]
    except MissingService:
        raise AccessLogMissing("no authorized-use log is configured; data is not served") from None


async def get_access_recorder(request: Request) -> AccessRecorder:
    return access_recorder(request)


AccessRecorderDep = Annotated[AccessRecorder, Depends(get_access_recorder)]
