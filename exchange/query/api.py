"""HTTP API of the exchange query: one subject or a batch of subjects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_only
from starlette.concurrency import run_in_threadpool

from adapters.deps import configured_bindings
from catalog.access import access_recorder
from exchange.errors import SubjectInvalid
from exchange.query import request_hash, service
from exchange.query.schemas import BatchQueryIn, QueryIn, hashed_body, item_requests
from identity.deps import OperatingCaller, operating_caller
from identity.ratelimit import RateLimiter
from identity.tokens import Principal
from storage.base import utcnow
from wiring import MissingService, find_service

router = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])

RATE_BUCKET = "exchange"  # shared with the exchange's other routes (certhub.app)

# The caller is the route's one dependency; the session and the log recorder
# are reached where the work runs (see ``_query_on_the_loop``).
Querier = Annotated[OperatingCaller, Depends(operating_caller("exchange:query"))]


def _context(request: Request, session, recorder, principal: Principal, operator: str, body) -> service.QueryContext:
    now = utcnow()
    # Fail closed before any provider is asked: data that could not be logged is not fetched.
    recorder.check_serving(session=session)
    purpose = service.validate_purpose(body.purpose)
    case_number = service.validate_case_number(body.case_number)
    matter = service.validate_matter(session, body.matter)
    envelope = request_hash.envelope(department_code=principal.department_code, client_id=principal.client_id,
                                     operator=operator, body=hashed_body(body), now=now)
    request.state.request_envelope = envelope
    return service.QueryContext(
        session=session, recorder=recorder, bindings=configured_bindings(request),
        caller=service.Caller(department_code=principal.department_code, client_id=principal.client_id,
                              operator=operator),
        matter_code=matter, purpose=purpose, case_number=case_number, request_hash=envelope.digest, now=now,
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


@router.post("/query")
async def query(body: QueryIn, request: Request, response: Response, caller: Querier) -> dict:
    """Ask for licences and data items of one subject for a matter. Each item
    is answered or refused with a machine reason; each is logged."""
    sessions = _query_sessions(request)
    if sessions is not None:
        return await _query_on_the_loop(body=body, request=request, response=response, caller=caller,
                                        sessions=sessions)
    # SQLite: one trip to the thread pool for the work and its commit. The
    # default pool, not the short-work one: the provider's system is called
    # on the way.
    return await run_in_threadpool(_query_committed, body=body, request=request, response=response, caller=caller)


def _query_sessions(request: Request) -> async_sessionmaker | None:
    """The autocommit sessions on the loop, which only PostgreSQL has (certhub.db)."""
    try:
        return find_service(request, async_sessionmaker)
    except MissingService:
        return None


async def _query_on_the_loop(*, body: QueryIn, request: Request, response: Response, caller: OperatingCaller,
                             sessions: async_sessionmaker) -> dict:
    """The query on PostgreSQL (certhub.db.create_query_engine): the rate
    limit, the reads and the log on the event loop, each statement committing
    by itself; only the providers' calls go to a worker thread."""
    # Counted first, in one brief round trip on the loop: waiting for Redis
    # through the loop (redis.asyncio) queued the reply behind other
    # requests' work and cost more than the round trip itself.
    find_service(request, RateLimiter).charge(department_code=caller.principal.department_code, bucket=RATE_BUCKET)
    loop = asyncio.get_running_loop()
    async with sessions() as session:
        # The service code runs as it is, in SQLAlchemy's bridge: its
        # statements are awaited on the loop, not blocking it. One pass
        # through the bridge for the whole query: each pass costs a
        # greenlet and a trip through the session's state machinery.
        return await session.run_sync(_answer_in_the_bridge, request=request, response=response, caller=caller,
                                      body=body, loop=loop)


def _answer_in_the_bridge(session: Session, *, request: Request, response: Response, caller: OperatingCaller,
                          body: QueryIn, loop: asyncio.AbstractEventLoop) -> dict:
    provider_calls = find_service(request, ThreadPoolExecutor)

    def in_a_provider_thread(ctx: service.QueryContext, answers) -> None:
        # The loop's own hand-off to a thread, awaited from the bridge (the
        # loop runs other requests meanwhile): anyio's (run_in_threadpool)
        # adds a pass through the loop on the way back, and on a busy loop
        # each pass queues behind other requests' work.
        await_only(loop.run_in_executor(provider_calls, service.fetch_from_providers, ctx, answers))

    ctx, answers = _decided(session, request=request, caller=caller, body=body)
    results = service.settle(ctx, answers, fetch=in_a_provider_thread)
    session.commit()
    return _answered(request, response, ctx, caller, body, results)


def _decided(session: Session, *, request: Request, caller: OperatingCaller,
             body: QueryIn) -> tuple[service.QueryContext, list[service.ItemAnswer]]:
    ctx = _context(request, session, access_recorder(request), caller.principal, caller.operator, body)
    return ctx, _decide_one(ctx, body.subject, item_requests(body.items))


def _answered(request: Request, response: Response, ctx: service.QueryContext, caller: OperatingCaller,
              body: QueryIn, results: list[dict]) -> dict:
    return {**_head(request, response, ctx, caller.principal, caller.operator),
            "subject": {"code": body.subject.code, "type": body.subject.type}, "results": results}


def _query_committed(*, body: QueryIn, request: Request, response: Response, caller: OperatingCaller) -> dict:
    def answer(ctx: service.QueryContext) -> dict:
        results = service.settle(ctx, _decide_one(ctx, body.subject, item_requests(body.items)))
        return _answered(request, response, ctx, caller, body, results)

    return _committed(request, caller, body, answer)


@router.post("/query/batch")
async def query_batch(body: BatchQueryIn, request: Request, response: Response, caller: Querier) -> dict:
    """The same for up to 500 subjects (supervision checks): a result per subject."""
    return await run_in_threadpool(_batch_committed, body=body, request=request, response=response, caller=caller)


def _batch_committed(*, body: BatchQueryIn, request: Request, response: Response, caller: OperatingCaller) -> dict:
    def answer(ctx: service.QueryContext) -> dict:
        requests = item_requests(body.items)
        decided = [_decide_one(ctx, s, requests) for s in body.subjects]
        # Settled together: one read transaction for every decision, then the providers, then the log.
        settled = iter(service.settle(ctx, [answer for answers in decided for answer in answers]))
        results = [{"subject": {"code": s.code, "type": s.type}, "results": [next(settled) for _ in answers]}
                   for s, answers in zip(body.subjects, decided)]
        outcomes = [r["result"] for subject in results for r in subject["results"]]
        return {**_head(request, response, ctx, caller.principal, caller.operator), "subjects": results,
                "summary": {"granted": outcomes.count("granted"), "refused": outcomes.count("refused")}}

    # In the app's transactions: a batch's records can take several statements.
    return _committed(request, caller, body, answer)


def _committed(request: Request, caller: OperatingCaller, body: QueryIn | BatchQueryIn,
               answer: Callable[[service.QueryContext], dict]) -> dict:
    """Count the request, then ``answer`` it in one of the app's sessions and
    commit: the session is opened here, in the worker thread, rather than as
    a dependency, and closed (rolled back unless committed) on the way out."""
    find_service(request, RateLimiter).charge(department_code=caller.principal.department_code, bucket=RATE_BUCKET)
    with find_service(request, sessionmaker)() as session:
        ctx = _context(request, session, access_recorder(request), caller.principal, caller.operator, body)
        answered = answer(ctx)
        session.commit()
    return answered
