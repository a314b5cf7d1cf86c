"""Redemption at the counter: a department's clerk scans a 亮证 code; the
registry verifies it, makes sure it is used once, checks each licence's
current status, and records the use — all in the caller's transaction.

One-time use holds across every app process twice over:
1. the cache's set-if-absent on the presentation id (fast path; Redis when
   several processes serve), and
2. the unique presentation id of `registry_redemptions` (the guarantee: it
   holds when the cache lost its data).
A redemption that fails for any reason after the claim (a licence revoked,
the use log unavailable, ...) gives both claims back: the row rolls back
with the transaction, and the cache key is deleted. A failed redemption does
not burn the code; a successful one does, for good.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.access import UseLog, UseRecord
from catalog.service import licence_types, matters
from identity.ratelimit import RateLimiter
from registry.errors import InvalidIdentifier
from registry.models import Licence, LicenceStatus
from registry.presentations.disclosure import disclose
from registry.presentations.errors import CodeRefused, InvalidPresentationRequest, LicenceRefused, Replayed
from registry.presentations.models import Presentation, Redemption
from registry.presentations.trust import HeldTrust, RegistryTrust
from registry.service.reads import ShownLicence, get_shown
from signing.qr import PresentationClaim, QrVerificationError, verify_qr
from signing.statuses import KeyPurpose
from storage.cache import Cache
from storage.units import write_lock

SKEW = timedelta(seconds=30)
SHORT_CODE_EXPIRED_KEPT = timedelta(minutes=10)


@dataclass(frozen=True)
class ShortCodeAttempts:
    """Short codes typed per minute: a clerk types a few a minute at most.
    The department's bound is what limits a guesser (a department names its
    own operators): 60 a minute all day against 1000 live codes of ten
    digits finds one with odds of about 1 in 115, and every try is in the
    use log as a refused redemption of that department."""

    per_clerk: int = 6
    per_department: int = 60


SHORT_CODE_ATTEMPTS = ShortCodeAttempts()
SUPERSEDED_MESSAGE = "the holder has since been given a newer code for this licence; scan the code on their screen"
_REFRESH_ON = {"unknown_key", "key_not_valid"}


@dataclass(frozen=True)
class Counter:
    """Who redeems: the department's system, the clerk, and why (用证事由)."""

    department_code: str
    client_id: str
    operator_id: str
    matter_code: str
    purpose: str
    case_number: str | None
    request_hash: str


@dataclass(frozen=True)
class StoredPresentation:
    """What redemption reads of a stored presentation (plain values, no ORM
    object: the row is read on every redemption and never changed by it)."""

    id: str
    holder_code: str
    licence_identifiers: tuple[str, ...]
    disclosure: str
    expires_at: datetime


@dataclass
class Redeemed:
    presentation: StoredPresentation
    redemption_id: int
    redeemed_at: datetime
    licences: list[dict[str, Any]]
    trust_list_age: timedelta
    fields: list[str] = field(default_factory=list)


# Statements of the hot path, built once (see registry.service.reads).
# Shared-locked: a newer code made meanwhile (present.py marks this one
# superseded under a row lock) waits for this redemption to end, so a code is
# never redeemed after the holder was given its replacement.
_PRESENTATION_AND_MATTER = select(
    Presentation.id, Presentation.holder_code, Presentation.licence_identifiers, Presentation.disclosure,
    Presentation.expires_at, Presentation.superseded_by, matters.exists_clause(code=bindparam("matter_code")),
).where(Presentation.id == bindparam("presentation_id")).with_for_update(read=True, of=Presentation)
_CLAIM = insert(Redemption.__table__).returning(Redemption.__table__.c.id)


def accepted_until(expires_at: datetime) -> datetime:
    """The last instant a code is accepted: its expiry plus the clock-skew
    allowance (what the wallet counts down to)."""
    return expires_at + SKEW


def claim_key(presentation_id: str) -> str:
    return f"presentations:redeemed:{presentation_id}"


def verify_presentation(
    *, qr_text: str, trust: RegistryTrust, registry_id: str, now: datetime
) -> tuple[PresentationClaim, HeldTrust]:
    """Steps 1-3: a valid code, a presentation code, made by this registry;
    the presentation it claims."""
    held = trust.current(now=now)
    try:
        result = verify_qr(qr_text, trust_store=held.store, now=now, skew=SKEW)  # 1.
    except QrVerificationError as exc:
        if exc.code not in _REFRESH_ON:
            raise CodeRefused(str(exc), code=exc.code) from None
        # The key may be newer than the list held: look again once.
        held = trust.refresh(now=now)
        try:
            result = verify_qr(qr_text, trust_store=held.store, now=now, skew=SKEW)
        except QrVerificationError as again:
            raise CodeRefused(str(again), code=again.code) from None
    if result.kind != "presentation" or result.presentation is None:  # 2.
        raise CodeRefused("this is not a 亮证 presentation code (a printed licence QR is checked, not redeemed)",
                          code="not_a_presentation")
    purpose = getattr(result.key, "purpose", None)
    if result.issuer != registry_id or purpose != KeyPurpose.PRESENTATION:  # 3.
        raise CodeRefused("the code was not made by this registry's presentation key", code="unknown_signer")
    return result.presentation, held


def redeem(
    *,
    session: Session,
    qr_text: str,
    counter: Counter,
    trust: RegistryTrust,
    cache: Cache,
    recorder: UseLog,
    registry_id: str,
    now: datetime,
) -> Redeemed:
    # The trust store reads (and may publish) in a session of its own: before
    # this transaction takes SQLite's write lock, never while holding it.
    claim, held = verify_presentation(qr_text=qr_text, trust=trust, registry_id=registry_id, now=now)
    write_lock(session=session)  # SQLite: the write lock first, so no read snapshot goes stale before we write
    presentation, superseded_by = _stored(session=session, presentation_id=claim.presentation_id,
                                          matter_code=counter.matter_code)
    if presentation is None or presentation.licence_identifiers != tuple(claim.licence_identifiers) \
            or presentation.disclosure != claim.disclosure:  # 4. a code this registry stored, as stored
        raise CodeRefused("the code does not match a presentation of this registry", code="unknown_presentation")
    return _redeem_stored(session=session, presentation=presentation, superseded_by=superseded_by, counter=counter,
                          cache=cache, recorder=recorder, held=held, now=now)


def redeem_short_code(
    *,
    session: Session,
    short_code: str,
    counter: Counter,
    trust: RegistryTrust,
    cache: Cache,
    attempts: RateLimiter,
    recorder: UseLog,
    now: datetime,
) -> Redeemed:
    """The clerk typed the digits under the holder's QR instead of scanning it.
    The digits stand for the stored presentation (no signature to check: the
    registry made and kept them); from there it is the QR's path, once only.
    Guessing is bounded: every attempt counts against the clerk's and the
    department's per-minute allowance first (SHORT_CODE_ATTEMPTS), and a
    refused attempt is recorded in the use log like any refused redemption."""
    attempts.count_attempts(bucket="short_code", within=counter.department_code,
                            what="short codes typed; scan the QR or wait a minute", limits=[
        (f"{counter.department_code}:{counter.operator_id}", SHORT_CODE_ATTEMPTS.per_clerk),
        (counter.department_code, SHORT_CODE_ATTEMPTS.per_department)])
    held = trust.current(now=now)  # before the write lock, as in redeem
    write_lock(session=session)
    found = session.scalars(select(Presentation.id).where(
        Presentation.short_code == short_code, Presentation.expires_at >= short_codes_kept_since(now)).limit(2)).all()
    if len(found) != 1:  # none, or two live codes that drew the same digits: never guess between holders
        raise CodeRefused("no 亮证 code has these digits; check them with the holder or scan the QR",
                          code="unknown_short_code")
    presentation, superseded_by = _stored(session=session, presentation_id=found[0], matter_code=counter.matter_code)
    if presentation is None:
        raise CodeRefused("no 亮证 code has these digits", code="unknown_short_code")
    return _redeem_stored(session=session, presentation=presentation, superseded_by=superseded_by, counter=counter,
                          cache=cache, recorder=recorder, held=held, now=now)


def short_codes_kept_since(now: datetime) -> datetime:
    """Short codes are looked up among presentations accepted until at least
    this instant: live ones, and those that ended a little ago (so a late clerk
    hears "expired", not "unknown"). A new code's digits are free in the same window."""
    return now - SKEW - SHORT_CODE_EXPIRED_KEPT


def _stored(*, session: Session, presentation_id: str,
            matter_code: str) -> tuple[StoredPresentation | None, str | None]:
    """The stored presentation (locked for share) and the code that replaced
    it, if any; checks the counter's matter in the same round trip."""
    row = session.connection().execute(
        _PRESENTATION_AND_MATTER, {"presentation_id": presentation_id, "matter_code": matter_code}
    ).one_or_none()
    presentation = matter_known = superseded_by = None
    if row is not None:
        stored_id, holder_code, identifiers, disclosure, expires_at, superseded_by, matter_known = row
        presentation = StoredPresentation(id=stored_id, holder_code=holder_code,
                                          licence_identifiers=tuple(identifiers), disclosure=disclosure,
                                          expires_at=expires_at)
    if matter_known is None:
        matter_known = matters.exists(session=session, code=matter_code)
    if not matter_known:
        raise InvalidPresentationRequest("matter_code: not a matter of the catalog")
    return presentation, superseded_by


def _redeem_stored(
    *, session: Session, presentation: StoredPresentation, superseded_by: str | None, counter: Counter,
    cache: Cache, recorder: UseLog, held: HeldTrust, now: datetime,
) -> Redeemed:
    if now > accepted_until(presentation.expires_at):
        raise CodeRefused("the code has expired; ask the holder to show a new one", code="expired")
    if superseded_by is not None:
        raise CodeRefused(SUPERSEDED_MESSAGE, code="superseded")
    key = claim_key(presentation.id)
    ttl = max((accepted_until(presentation.expires_at) - now).total_seconds(), 0) + 60
    if not cache.set_if_absent(key, counter.department_code, ttl_seconds=ttl):  # 5. fast path
        raise Replayed("this code was already used; ask the holder to show a new one")
    try:
        return _redeem_claimed(session=session, presentation=presentation, counter=counter, recorder=recorder,
                               held=held, now=now)
    except BaseException:
        cache.delete(key)  # a failed redemption does not burn the code
        raise


def _redeem_claimed(
    *, session: Session, presentation: StoredPresentation, counter: Counter, recorder: UseLog,
    held: HeldTrust, now: datetime,
) -> Redeemed:
    redemption = {
        "presentation_id": presentation.id, "department_code": counter.department_code,
        "client_id": counter.client_id, "operator_id": counter.operator_id, "matter_code": counter.matter_code,
        "purpose": counter.purpose, "case_number": counter.case_number, "request_hash": counter.request_hash,
        "redeemed_at": now,
    }
    try:
        # 6. The database's word on one-time use. A concurrent redeemer's
        # insert waits here for ours to commit or roll back. The failed
        # transaction is the caller's to roll back (it does, to record the refusal).
        # A plain statement rather than the unit of work: the row is final as written.
        redemption_id = session.connection().execute(_CLAIM, redemption).scalar_one()
    except IntegrityError:
        raise Replayed("this code was already used; ask the holder to show a new one") from None
    licences: list[dict[str, Any]] = []
    fields: list[str] = []
    for identifier in presentation.licence_identifiers:  # 7. each licence as it is now
        licence, rules = _usable(session=session, identifier=identifier, holder_code=presentation.holder_code, now=now)
        shown, disclosed = disclose(licence, disclosure=presentation.disclosure, rules=rules)
        licences.append(shown)
        fields.extend(name for name in disclosed if name not in fields)
    recorder.append(session=session, records=[UseRecord(  # 8. recorded in this transaction, or nothing goes out
        kind="redemption", department_code=counter.department_code,
        operator_id=counter.operator_id, basis="holder_presentation", subject_code=presentation.holder_code,
        licence_ids=presentation.licence_identifiers, fields=tuple(_loggable(fields)), matter_code=counter.matter_code,
        purpose=counter.purpose, case_number=counter.case_number, request_hash=counter.request_hash,
    )])
    return Redeemed(presentation=presentation, redemption_id=redemption_id, redeemed_at=now, licences=licences,
                    trust_list_age=held.age(now), fields=fields)


def _loggable(fields: list[str], limit: int = 100) -> list[str]:
    """The log takes at most `limit` field names; past that, face fields are
    summarised by whether they were masked (nothing disclosed goes unlogged)."""
    if len(fields) <= limit:
        return fields
    summary = {"face.*:masked" if name.endswith(":masked") else "face.*" for name in fields if name.startswith("face.")}
    return sorted(summary) + [name for name in fields if not name.startswith("face.")]


_REFUSED_STATUS = {
    LicenceStatus.REVOKED: "revoked",
    LicenceStatus.SUSPENDED: "suspended",
    LicenceStatus.CANCELLED: "cancelled",
    LicenceStatus.EXPIRED: "expired",
}


def _usable(
    *, session: Session, identifier: str, holder_code: str, now: datetime
) -> tuple[ShownLicence, licence_types.FaceRules]:
    try:
        licence = get_shown(session=session, identifier=identifier)
    except InvalidIdentifier:
        licence = None
    rules = None if licence is None else licence_types.face_rules_kept(
        session=session, code=licence.type_code, version=licence.type_version)
    if licence is None or rules is None or licence.holder_code != holder_code:
        raise LicenceRefused(f"licence {identifier} is not in the registry", code="licence_not_found")
    if licence.status in _REFUSED_STATUS:
        code = _REFUSED_STATUS[licence.status]
        raise LicenceRefused(f"licence {identifier} is {licence.status}", code=code)
    ended_on = licence.licence_valid_until  # None: permanent, never ends
    if ended_on is not None and Licence.validity_ended_at(valid_until=ended_on, moment=now):
        raise LicenceRefused(f"licence {identifier} expired on {ended_on.isoformat()}",
                             code="expired")
    if licence.superseded:
        raise LicenceRefused(f"licence {identifier} was changed since the code was made; ask for a new code",
                             code="superseded")
    return licence, rules
