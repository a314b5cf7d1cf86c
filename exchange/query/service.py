"""The query engine: one department asks for items of one or many subjects,
for a matter, with purpose and case number. Per item: policy → fetch →
disclose (agreed fields, masked as agreed) → log → result. Every answer
and every refusal is one record in the authorized-use log, carrying the
request hash, committed before the answer is shown.

A request is answered in two steps: ``decide`` every item (policy, and the
registry's licences, in one read transaction), then ``settle``: the
providers' systems are called through the unit of work's ``offload``
(storage.units), which ends that read transaction first, so a slow
department holds no database connection; the log records are written
after, and the unit of work commits them before anything is shown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.sources import BindingRegistry
from catalog.access import DisclosedAnswer, UseLog, UseRecord
from catalog.errors import UnknownMatter
from catalog.service import matters
from exchange.agreements import items as catalog_items
from exchange.agreements.models import ItemKind
from exchange.consent.service import NO_CONSENT
from exchange.errors import InvalidExchangeRequest, Refusal, SubjectInvalid
from exchange.query import fetch
from exchange.query.masking import Grant, grant_for
from exchange.query.policy import DEPARTMENT_QUERY, STANDARD, ItemAccess, Policy
from identity.errors import InvalidCode
from identity.holder_auth import validate_holder_code
from signing import commitments
from storage.units import work_on

MAX_PURPOSE = 200
MAX_CASE_NUMBER = 64
MAX_ITEMS = 20  # a query's records then fit one INSERT (exchange.auditlog.records.ROWS_PER_STATEMENT)
MAX_BATCH_SUBJECTS = 500
MAX_BATCH_ITEMS = 10
_CASE_NUMBER = re.compile(r"[0-9A-Za-z\u4e00-\u9fff（）()\[\]〔〕【】._:/#\- ]{1,64}")


@dataclass(frozen=True)
class Caller:
    department_code: str
    client_id: str
    operator: str


@dataclass(frozen=True)
class Subject:
    code: str
    code_type: str


@dataclass(frozen=True)
class ItemRequest:
    code: str
    fields: tuple[str, ...] | None = None


@dataclass
class QueryContext:
    """What every item access of one request shares."""

    session: Session
    recorder: UseLog
    bindings: BindingRegistry | None
    caller: Caller
    matter_code: str
    purpose: str
    case_number: str
    request_hash: str
    now: datetime
    policy: Policy = STANDARD
    # How the providers are called: the ``offload`` of the unit of work the
    # query runs in (None: the session's, in this thread).
    offload: Callable[..., Any] | None = None


def validate_subject(code: str, code_type: str) -> Subject:
    try:
        code, code_type = validate_holder_code(code=code, code_type=code_type)
    except InvalidCode as error:
        raise SubjectInvalid(f"subject: {error}") from None
    return Subject(code=code, code_type=code_type)


def validate_purpose(purpose: str) -> str:
    purpose = (purpose or "").strip()
    if not purpose:
        raise InvalidExchangeRequest("purpose (用证事由) is required")
    if len(purpose) > MAX_PURPOSE or any(ord(ch) < 0x20 for ch in purpose):
        raise InvalidExchangeRequest(f"purpose: at most {MAX_PURPOSE} characters, no control characters")
    return purpose


def validate_case_number(case_number: str) -> str:
    case_number = (case_number or "").strip()
    if not _CASE_NUMBER.fullmatch(case_number):
        raise InvalidExchangeRequest(
            f"case_number: 1 to {MAX_CASE_NUMBER} letters, digits, CJK characters, brackets, spaces or ._:/#-")
    return case_number


def validate_matter(*, session: Session, matter_code: str) -> str:
    # Checked on every query and plan: a few seconds' memory of the catalog will do.
    try:
        matters.require_existing(session=session, codes=[matter_code], kept=True)
    except UnknownMatter as unknown:
        raise InvalidExchangeRequest(f"matter: {unknown}") from None
    return matter_code


@dataclass
class ItemAnswer:
    """One item's answer in the making: decided under the policy, then (for
    a provider's data) fetched, then logged and shown."""

    code: str  # as asked for
    subject: Subject | None  # None: the subject was no valid code
    logged_code: str | None  # the item code the log record names (None: no such item)
    item: catalog_items.SharedItem | None = None
    access: ItemAccess | None = None
    refusal: Refusal | None = None
    result: dict | None = None
    grant: Grant | None = None  # set while a provider's records are still to be fetched under it

    @property
    def awaits_provider(self) -> bool:
        return self.refusal is None and self.result is None and self.grant is not None


def refuse_invalid_subject(requests: Sequence[ItemRequest], error: SubjectInvalid) -> list[ItemAnswer]:
    """A subject that is no valid code: every item refused (and logged without the code)."""
    return [ItemAnswer(code=request.code, subject=None, logged_code=request.code,
                       refusal=Refusal("subject_invalid", str(error))) for request in requests]


def decide(ctx: QueryContext, subject: Subject, request: ItemRequest) -> ItemAnswer:
    """The policy's decision on one item; a licence is read at once, a
    provider's data is left for ``settle`` to fetch."""
    item = catalog_items.find(session=ctx.session, code=request.code)
    if item is None:
        return ItemAnswer(code=request.code, subject=subject, logged_code=None, refusal=Refusal(
            "item_unknown", "no licence type or data item with this code in the catalog"))
    access = ItemAccess(
        session=ctx.session, consumer_code=ctx.caller.department_code, subject_code=subject.code,
        subject_code_type=subject.code_type, matter_code=ctx.matter_code, item=item,
        requested_fields=request.fields, now=ctx.now,
    )
    answer = ItemAnswer(code=item.code, subject=subject, logged_code=item.code, item=item, access=access)
    try:
        _check_requested_fields(item, request.fields)
        ctx.policy.check(access)
        if item.kind == ItemKind.LICENCE_TYPE:
            answer.result = _licences(ctx, access)
        else:
            answer.grant = grant_for(item, access.agreements, access.requested_fields)
    except Refusal as refusal:
        answer.refusal = refusal
    return answer


def settle(ctx: QueryContext, answers: Sequence[ItemAnswer]) -> list[dict]:
    """Fetch what providers hold, then log every answer in order; the shown results."""
    if awaits_providers(answers):
        # A provider may take seconds to answer. No database transaction,
        # and so no pooled connection, is held meanwhile (``Work.offload``):
        # the decisions are made, the log records are written after, together.
        offload = ctx.offload or work_on(session=ctx.session).offload
        offload(fetch_from_providers, ctx, answers)
    return log_and_show(ctx, answers)


def awaits_providers(answers: Sequence[ItemAnswer]) -> bool:
    return any(answer.awaits_provider for answer in answers)


def fetch_from_providers(ctx: QueryContext, answers: Sequence[ItemAnswer]) -> None:
    """Ask the providers' systems for the answers that wait on them (blocking
    I/O, and no use of ``ctx.session``)."""
    for answer in answers:
        if answer.awaits_provider:
            try:
                answer.result = _data(ctx, answer)
            except Refusal as refusal:
                answer.refusal = refusal


def log_and_show(ctx: QueryContext, answers: Sequence[ItemAnswer]) -> list[dict]:
    """Every answer's record, written together (all of them or none); the shown results."""
    committed = [_committed(answer) for answer in answers]
    ctx.recorder.append(session=ctx.session, records=[
        _use(ctx, answer, disclosed) for answer, disclosed in zip(answers, committed, strict=True)])
    return [_shown(answer, disclosed) for answer, disclosed in zip(answers, committed, strict=True)]


def _committed(answer: ItemAnswer) -> DisclosedAnswer | None:
    """A salted commitment to each item a granted answer discloses (each
    licence, each provider record): the record keeps the digests, the
    caller gets the salts (signing.commitments)."""
    if answer.refusal is not None or answer.result is None:
        return None
    values = tuple(answer.result["licences"] if "licences" in answer.result else answer.result["records"])
    made = commitments.commit(values)
    return DisclosedAnswer(values=values, salts=tuple(c.salt for c in made), digests=tuple(c.digest for c in made))


def _shown(answer: ItemAnswer, disclosed: DisclosedAnswer | None) -> dict:
    item = answer.item
    if answer.refusal is not None:
        shown = _refused(answer.code, answer.refusal)
        return {**shown, "kind": item.kind, "name": item.name} if item is not None else shown
    access = answer.access
    assert item is not None and access is not None and answer.result is not None and disclosed is not None
    # answer_salts[i] opens the log record's digest of licences[i] (or records[i]).
    return {"item": item.code, "kind": item.kind, "name": item.name, "result": "granted", "basis": access.basis,
            "access_kind": access.kind, **answer.result, "answer_salts": list(disclosed.salts)}


def _check_requested_fields(item: catalog_items.SharedItem, fields: Sequence[str] | None) -> None:
    unknown = [f for f in (fields or ()) if f not in item.field_keys]
    if unknown:
        raise Refusal("field_unknown", f"{unknown[0]!r} is not a field of {item.name}")


def _licences(ctx: QueryContext, access: ItemAccess) -> dict:
    item = access.item
    by_provider = defaultdict(list)
    for agreement in access.agreements:
        by_provider[agreement.provider_code].append(agreement)
    grants = {provider: grant_for(item, rows, access.requested_fields) for provider, rows in by_provider.items()}
    found = fetch.licences(session=ctx.session, subject_code=access.subject_code,
                           subject_code_type=access.subject_code_type, item=item, grants=grants, now=ctx.now)
    disclosed = sorted({key for entry in found for key in entry["fields"]}, key=item.field_keys.index)
    return {"fields": disclosed, "licences": found}


def _data(ctx: QueryContext, answer: ItemAnswer) -> dict:
    item, access, grant = answer.item, answer.access, answer.grant
    assert item is not None and access is not None and grant is not None
    records = fetch.data_records(bindings=ctx.bindings, item=item, subject_code=access.subject_code, grant=grant)
    return {"fields": list(grant.fields) if records else [], "masked_fields": grant.masked_fields(item),
            "records": records}


def _refused(code: str, refusal: Refusal) -> dict:
    return {"item": code, "result": "refused", "reason": refusal.code, "message": str(refusal)}


def _use(ctx: QueryContext, answer: ItemAnswer, disclosed: DisclosedAnswer | None) -> UseRecord:
    """The log record of one answer, committing to what it disclosed."""
    item, subject, refusal, access, result = answer.item, answer.subject, answer.refusal, answer.access, answer.result
    item_code = answer.logged_code
    licence_ids: tuple[str, ...] = ()
    data_items: tuple[str, ...] = ()
    if item is not None and item.kind == ItemKind.DATA_ITEM and item_code:
        data_items = (item_code,)
    if result is not None and "licences" in result:
        licence_ids = tuple(entry["identifier"] for entry in result["licences"])
    fields: tuple[str, ...] = ()  # a refusal discloses none
    reason_code: str | None = None
    if refusal is not None:
        kind = access.kind if access is not None else DEPARTMENT_QUERY
        basis, outcome, reason_code = _denied_basis(refusal, access), "denied", refusal.code
    else:
        assert access is not None and access.basis is not None and result is not None
        kind, basis, outcome, fields = access.kind, access.basis, "granted", tuple(result["fields"])
    return UseRecord(
        kind=kind, basis=basis, result=outcome, reason_code=reason_code, fields=fields,
        department_code=ctx.caller.department_code, operator_id=ctx.caller.operator,
        subject_code=subject.code if subject else None, licence_ids=licence_ids, data_items=data_items,
        matter_code=ctx.matter_code, purpose=ctx.purpose, case_number=ctx.case_number,
        request_hash=ctx.request_hash, answer=disclosed,
        # A covert mandate's embargo applies to what it granted; a refusal hides nothing.
        embargo_until=access.embargo_until if access is not None and refusal is None else None,
    )


def _denied_basis(refusal: Refusal, access: ItemAccess | None) -> str:
    """The basis a refused access was checked under: the one established
    before a later step failed, the consent that was withdrawn or expired,
    unconditional sharing for such items, else "consent:none"."""
    if access is not None and access.basis:
        return access.basis
    if refusal.basis:
        return refusal.basis
    if access is not None and access.item.sharing_attribute == "unconditional":
        return "unconditional_sharing"
    return NO_CONSENT
