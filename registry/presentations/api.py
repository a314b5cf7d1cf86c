"""HTTP API of 亮证: holders ask for one-time codes, counters redeem them,
anyone checks a code. Translates HTTP to the presentations service and back."""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from sqlalchemy.exc import SQLAlchemyError

import wiring
from catalog.access import UseLog, UseRecord
from identity.client_assertions import vouched_operator
from identity.deps import HolderDep, current_principal, require_scopes
from identity.errors import Forbidden, InvalidCode
from identity.operators import OPERATOR_HEADER, validate_operator_id
from identity.ratelimit import RateLimiter
from identity.tokens import Principal
from registry.config import RegistryConfig
from registry.presentations import present as presenting
from registry.presentations import public, receipts
from registry.presentations import redeem as redeeming
from registry.presentations.schemas import (
    PresentationCreate,
    PresentationRead,
    RedeemedLicence,
    RedemptionCreate,
    RedemptionRead,
    ShortCodeRedemptionCreate,
    VerifyRead,
    VerifyRequest,
)
from registry.presentations.trust import RegistryTrust
from registry.service.pdfsigning import PdfTimestamps
from signing.canonical import canonical_json
from signing.qr import render_qr_png
from storage.base import utcnow
from storage.cache import Cache
from storage.sessions import ReadSessionDep, SessionDep
from storage.units import UnitOfWork, Work
from wiring import find_service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/presentations", tags=["presentations"])
# A router of its own so deployments can put a rate limit on counters alone.
redeem_router = APIRouter(prefix="/api/v1/presentations", tags=["presentations"])
verify_router = APIRouter(prefix="/api/v1", tags=["verification"])

REDEEM_SCOPE = "presentation:redeem"
REDEEM_RATE_BUCKET = "presentations"
MAX_VERIFY_BODY = 8 * 1024
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:\-]{0,63}")


def registry_trust(request: Request) -> RegistryTrust:
    """The registry's trust store, one per app (certhub.root)."""
    return find_service(request, RegistryTrust)


async def get_registry_trust(request: Request) -> RegistryTrust:
    return registry_trust(request)


TrustDep = Annotated[RegistryTrust, Depends(get_registry_trust)]
Department = Annotated[Principal, Depends(current_principal)]
Redeemer = Annotated[Principal, Depends(require_scopes(REDEEM_SCOPE))]
Units = Annotated[UnitOfWork, wiring.service(UnitOfWork)]


@router.post("", response_model=PresentationRead, status_code=201)
def create_presentation(body: PresentationCreate, request: Request, session: SessionDep, holder: HolderDep):
    """A one-time 亮证 code for some of the holder's own live licences (or,
    with `on_behalf_of`, those of a holder who delegated "present")."""
    config = find_service(request, RegistryConfig)
    issued = presenting.present(
        session=session, actor_code=holder.holder_code, actor_code_type=holder.holder_code_type,
        identifiers=body.licences, disclosure=body.disclosure, on_behalf_of=body.on_behalf_of,
        ttl_seconds=config.presentation_ttl_seconds,
        registry_id=config.registry_id, key_secret=config.key_secret, now=utcnow(),
    )
    row = issued.row
    png = base64.b64encode(render_qr_png(issued.qr_text)).decode()
    # The wallet counts down to the instant the counter stops accepting, not to `exp`.
    accepted_until = redeeming.accepted_until(row.expires_at)
    seconds_left = max(int((accepted_until - utcnow()).total_seconds()), 0)
    return PresentationRead(
        id=row.id, qr_text=issued.qr_text, qr_png_base64=png, expires_at=row.expires_at,
        ttl_seconds=issued.ttl_seconds, accepted_until=accepted_until, seconds_left=seconds_left,
        licences=list(row.licence_identifiers), disclosure=row.disclosure, short_code=row.short_code or "",
    )


@redeem_router.post("/redeem", response_model=RedemptionRead)
async def redeem_presentation(body: RedemptionCreate, request: Request, principal: Department, units: Units):
    """Redeem a holder's code at a counter: the licences as disclosed, once.
    Every attempt is recorded in the authorized-use log, refusals too."""
    return await _run_redemption(units, body=body, request=request, principal=principal)


@redeem_router.post("/redeem-short-code", response_model=RedemptionRead)
async def redeem_short_code(body: ShortCodeRedemptionCreate, request: Request, principal: Department, units: Units):
    """Redeem a holder's code by the ten digits shown under its QR, typed by
    the clerk when the QR cannot be scanned: the same presentation, the same
    single use, the same use record. Attempts are bounded per clerk and per
    department a minute (429 past that); every refused attempt is recorded."""
    return await _run_redemption(units, body=body, request=request, principal=principal)


async def _run_redemption(units: UnitOfWork, *, body: RedemptionCreate | ShortCodeRedemptionCreate,
                          request: Request, principal: Principal) -> RedemptionRead:
    attempt = _Attempt()
    try:
        return await units.run(functools.partial(_redeem, body=body, request=request, principal=principal,
                                                 attempt=attempt))
    except Exception as error:
        if attempt.counter is not None:  # counted, then refused: the refusal is recorded
            await _record_refusal(units, attempt, error=error)
        raise


@redeem_router.get("/redemptions/{presentation_id}/receipt.pdf", response_class=Response,
                   responses={200: {"content": {"application/pdf": {}}}})
def redemption_receipt(
    presentation_id: Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,32}$")], request: Request, session: SessionDep,
    principal: Redeemer,
) -> Response:
    """The verification receipt (核验回执) of a code this department redeemed, for the case file (办件):
    a PDF signed by the department's seal (PAdES, under the registry's document root)."""
    config = find_service(request, RegistryConfig)
    pdf = receipts.receipt_pdf(session=session, presentation_id=presentation_id,
                               department_code=principal.department_code, registry_id=config.registry_id,
                               key_secret=config.key_secret, now=utcnow().replace(microsecond=0),
                               timestamps=find_service(request, PdfTimestamps))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="receipt-{presentation_id}.pdf"'})


def _operator(request: Request, principal: Principal, body: RedemptionCreate | ShortCodeRedemptionCreate) -> str:
    """Who redeems: a staff session's person (never what the page typed: a
    different operator_id or X-Operator-Id is refused), else the body's
    operator_id, else the header."""
    header = request.headers.get(OPERATOR_HEADER)
    if header is not None:
        header = vouched_operator(principal=principal, named=validate_operator_id(header))
    named = vouched_operator(principal=principal, named=body.operator_id, where="operator_id")
    operator = named if named is not None else header
    if operator is None:
        raise InvalidCode(f"operator_id (or the {OPERATOR_HEADER} header) must name the person redeeming the code")
    return operator


@dataclass
class _Attempt:
    """What recording a refusal needs, set once the attempt was counted."""

    counter: redeeming.Counter | None = None
    recorder: UseLog | None = None


def _redeem(work: Work, *, body: RedemptionCreate | ShortCodeRedemptionCreate, request: Request,
            principal: Principal, attempt: _Attempt) -> RedemptionRead:
    # Counted before anything else, and not logged as a use when refused.
    find_service(request, RateLimiter).charge(department_code=principal.department_code, bucket=REDEEM_RATE_BUCKET)
    # The log recorder, the cache and the trust store are reached here, in
    # the work, rather than as dependencies (each dependency FastAPI solves
    # costs about as much as a small database statement).
    recorder, trust = find_service(request, UseLog), registry_trust(request)
    cache: Cache = find_service(request, Cache)  # type: ignore[type-abstract]  # registered under the protocol
    counter = redeeming.Counter(
        department_code=principal.department_code, client_id=principal.client_id,
        operator_id=_operator(request, principal, body),
        matter_code=body.matter_code, purpose=body.purpose.strip(), case_number=body.case_number,
        request_hash=hashlib.sha256(canonical_json(body.model_dump(mode="json"))).hexdigest(),
    )
    attempt.counter, attempt.recorder = counter, recorder
    if not principal.has(REDEEM_SCOPE):
        raise Forbidden(f"this call needs the scope: {REDEEM_SCOPE}")
    if isinstance(body, ShortCodeRedemptionCreate):
        redeemed = redeeming.redeem_short_code(session=work.session, short_code=body.short_code, counter=counter,
                                               trust=trust, cache=cache, attempts=find_service(request, RateLimiter),
                                               recorder=recorder, now=utcnow())
    else:
        redeemed = redeeming.redeem(
            session=work.session, qr_text=body.qr_text, counter=counter, trust=trust, cache=cache, recorder=recorder,
            registry_id=find_service(request, RegistryConfig).registry_id, now=utcnow(),
        )
    # Only a committed redemption uses the code up: a commit that fails
    # gives the claim back, as any failure before it does.
    work.if_not_committed(lambda: cache.delete(redeeming.claim_key(redeemed.presentation.id)))
    return RedemptionRead(
        presentation_id=redeemed.presentation.id, disclosure=redeemed.presentation.disclosure,
        redeemed_at=redeemed.redeemed_at,
        licences=[RedeemedLicence.model_validate(licence) for licence in redeemed.licences],
        trust_list_age_seconds=int(redeemed.trust_list_age.total_seconds()),
    )


async def _record_refusal(units: UnitOfWork, attempt: _Attempt, *, error: Exception) -> None:
    """A refused attempt is a unit of work of its own: the attempt's writes
    rolled back, the refusal's record commits. A failure to record it must
    not hide the refusal itself."""
    # Only our own errors name a reason; a database error's `code` is SQLAlchemy's page reference.
    code = None if isinstance(error, SQLAlchemyError) else getattr(error, "code", None)
    reason = code if isinstance(code, str) and _CODE.fullmatch(code) else "error"
    try:
        await units.run(functools.partial(_record_denied, attempt=attempt, reason=reason))
    except Exception as failure:  # noqa: BLE001 - reported, and the original error still goes out
        log.warning("a refused redemption (%s) could not be recorded: %s", reason, type(failure).__name__)


def _record_denied(work: Work, *, attempt: _Attempt, reason: str) -> None:
    counter, recorder = attempt.counter, attempt.recorder
    assert counter is not None and recorder is not None
    recorder.append(session=work.session, records=[UseRecord(
        kind="redemption", department_code=counter.department_code,
        operator_id=counter.operator_id, basis="holder_presentation", result="denied", reason_code=reason,
        matter_code=counter.matter_code, purpose=counter.purpose, case_number=counter.case_number,
        request_hash=counter.request_hash,
    )])


async def bounded_body(request: Request) -> None:
    """The public check reads small bodies only: say so before reading one."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > MAX_VERIFY_BODY:
        raise HTTPException(status_code=413, detail=f"send a JSON body of at most {MAX_VERIFY_BODY} bytes")


@verify_router.post("/verify", response_model=VerifyRead, response_model_exclude_none=True,
                    dependencies=[Depends(bounded_body)])
def verify_code(body: VerifyRequest, request: Request, session: ReadSessionDep, trust: TrustDep) -> VerifyRead:
    """Check any certhub QR code (or an EU DCC the registry trusts): genuine or
    not, and what the code itself says. Nothing beyond the code is revealed."""
    result = public.check(session=session, qr_text=body.qr_text, trust=trust,
                          registry_id=find_service(request, RegistryConfig).registry_id, now=utcnow())
    return VerifyRead(valid=result.valid, kind=result.kind, error=result.error, message=result.message,
                      summary=result.summary, issuer=result.issuer, expires_at=result.expires_at)
