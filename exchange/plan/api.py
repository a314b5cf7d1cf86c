"""HTTP API of the 免证办 plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from adapters.deps import OptionalBindingsDep
from catalog.access import UseLog
from exchange.plan import service as plans
from exchange.plan.schemas import PlanIn
from exchange.query import request_hash
from exchange.query import service as queries
from identity.deps import CallerOperatorDep, require_scopes
from identity.tokens import Principal
from storage.base import utcnow
from storage.sessions import SessionDep
from wiring import service

router = APIRouter(prefix="/api/v1/matters", tags=["exchange"])

Querier = Annotated[Principal, Depends(require_scopes("exchange:query"))]


@router.post("/{code}/plan")
def matter_plan(
    code: str,
    body: PlanIn,
    response: Response,
    session: SessionDep,
    principal: Querier,
    operator: CallerOperatorDep,
    recorder: Annotated[UseLog, service(UseLog)],
    bindings: OptionalBindingsDep,
) -> dict:
    """For each material of the matter: satisfied by which licence, by which
    data check, or needing a commitment or paper; plus pre-fill values.
    Statuses and values come only from what a query by the caller for this
    matter would be answered (and are logged as such). A POST, though it
    changes nothing but the log: the subject travels in the body."""
    now = utcnow()
    recorder.check_serving(session=session)
    subject, subject_type = body.subject.code, body.subject.type
    valid_subject = queries.validate_subject(subject, subject_type)
    matter = queries.validate_matter(session=session, matter_code=code)
    purpose = queries.validate_purpose(body.purpose)
    case_number = queries.validate_case_number(body.case_number)
    envelope = request_hash.envelope(
        department_code=principal.department_code, client_id=principal.client_id, operator=operator, now=now,
        body={"plan": matter, "subject": {"code": subject, "type": subject_type}, "purpose": purpose,
              "case_number": case_number},
    )
    ctx = queries.QueryContext(
        session=session, recorder=recorder, bindings=bindings,
        caller=queries.Caller(department_code=principal.department_code, client_id=principal.client_id,
                              operator=operator),
        matter_code=matter, purpose=purpose, case_number=case_number, request_hash=envelope.digest, now=now,
    )
    response.headers[request_hash.HEADER] = envelope.digest
    return {"request_id": envelope.request_id, "request_time": envelope.time, "request_hash": envelope.digest,
            "subject": {"code": valid_subject.code, "type": valid_subject.code_type},
            **plans.plan(ctx, subject=valid_subject)}
