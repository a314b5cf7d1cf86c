"""HTTP API of the exchange query: one subject or a batch of subjects.

Each route parses, runs its use case in the app's unit of work
(storage.units) and renders; how the work runs (a worker thread, or the
event loop on PostgreSQL) is the unit of work driver's choice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

import wiring
from adapters.deps import configured_bindings
from catalog.access import UseLog
from exchange.errors import SubjectInvalid
from exchange.query import request_hash, service
from exchange.query.schemas import BatchQueryIn, QueryIn, hashed_body, item_requests
from identity.deps import OperatingCaller, operating_caller
from identity.ratelimit import RateLimiter
from identity.tokens import Principal
from storage.base import utcnow
from storage.units import UnitOfWork, Work
from wiring import find_service

router = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])

RATE_BUCKET = "exchange"  # shared with the exchange's other routes (certhub.app)

# The caller and the unit of work are the routes' dependencies; the log
# recorder is reached where the work runs.
Querier = Annotated[OperatingCaller, Depends(operating_caller("exchange:query"))]
Units = Annotated[UnitOfWork, wiring.service(UnitOfWork)]


@router.post("/query")
async def query(body: QueryIn, request: Request, response: Response, caller: Querier, units: Units) -> dict:
    """Ask for licences and data items of one subject for a matter. Each item
    is answered or refused with a machine reason; each is logged."""

    def answer(work: Work) -> dict:
        ctx = _started(work, request, caller, body)
        results = service.settle(ctx, _decide_one(ctx, body.subject, item_requests(body.items)))
        return {**_head(request, response, ctx, caller.principal, caller.operator),
                "subject": {"code": body.subject.code, "type": body.subject.type}, "results": results}

    # Its one write, every record of the query, is one multi-row INSERT
    # (service.MAX_ITEMS records fit one: exchange.auditlog.records), atomic
    # by itself; the providers are called on the way.
    return await units.run(answer, calls_out=True, each_write_stands_alone=True)


@router.post("/query/batch")
async def query_batch(body: BatchQueryIn, request: Request, response: Response, caller: Querier,
                      units: Units) -> dict:
    """The same for up to 500 subjects (supervision checks): a result per subject."""

    def answer(work: Work) -> dict:
        ctx = _started(work, request, caller, body)
        requests = item_requests(body.items)
        decided = [_decide_one(ctx, s, requests) for s in body.subjects]
        # Settled together: one read transaction for every decision, then the providers, then the log.
        settled = iter(service.settle(ctx, [answer for answers in decided for answer in answers]))
        results: list[dict[str, Any]] = [
            {"subject": {"code": s.code, "type": s.type}, "results": [next(settled) for _ in answers]}
            for s, answers in zip(body.subjects, decided, strict=True)]
        outcomes = [r["result"] for subject in results for r in subject["results"]]
        return {**_head(request, response, ctx, caller.principal, caller.operator), "subjects": results,
                "summary": {"granted": outcomes.count("granted"), "refused": outcomes.count("refused")}}

    # A batch's records can take several statements: they need the unit's transaction.
    return await units.run(answer, calls_out=True)


def _started(work: Work, request: Request, caller: OperatingCaller, body: QueryIn | BatchQueryIn) -> service.QueryContext:
    """Count the request, then open its context (before any other work)."""
    # On the event loop the count must be one brief round trip: waiting for
    # Redis through the loop queued the reply behind other requests' work.
    find_service(request, RateLimiter).charge(department_code=caller.principal.department_code, bucket=RATE_BUCKET)
    return _context(request, work, caller.principal, caller.operator, body)


def _context(request: Request, work: Work, principal: Principal, operator: str, body) -> service.QueryContext:
    now = utcnow()
    session, recorder = work.session, find_service(request, UseLog)
    # Fail closed before any provider is asked: data that could not be logged is not fetched.
    recorder.check_serving(session=session)
    purpose = service.validate_purpose(body.purpose)
    case_number = service.validate_case_number(body.case_number)
    matter = service.validate_matter(session=session, matter_code=body.matter)
    envelope = request_hash.envelope(department_code=principal.department_code, client_id=principal.client_id,
                                     operator=operator, body=hashed_body(body), now=now)
    request.state.request_envelope = envelope
    return service.QueryContext(
        session=session, recorder=recorder, bindings=configured_bindings(request),
        caller=service.Caller(department_code=principal.department_code, client_id=principal.client_id,
                              operator=operator),
        matter_code=matter, purpose=purpose, case_number=case_number, request_hash=envelope.digest, now=now,
        offload=work.offload,
    )


def _decide_one(ctx: service.QueryContext, subject, requests) -> list[service.ItemAnswer]:
    try:
        valid = service.validate_subject(subject.code, subject.type)
    except SubjectInvalid as error:
        return service.refuse_invalid_subject(requests, error)
    return [service.decide(ctx, valid, request) for request in requests]


def _head(request: Request, response: Response, ctx: service.QueryContext, principal: Principal,
          operator: str) -> dict:
    envelope = request.state.request_envelope
    response.headers[request_hash.HEADER] = envelope.digest
    return {
        "request_id": envelope.request_id, "request_time": envelope.time, "request_hash": envelope.digest,
        "department": principal.department_code, "client_id": principal.client_id, "operator": operator,
        "matter": ctx.matter_code, "purpose": ctx.purpose, "case_number": ctx.case_number,
    }
