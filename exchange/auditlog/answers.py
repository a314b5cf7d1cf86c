"""What went out: checking a disclosed answer against the use record that
committed to it.

A granted exchange query's entry (format version 2) carries ``answer``:
``{"scheme": "sha-256/rfc8785-salted", "digests": [...]}``, one salted
digest per disclosed item (``signing.commitments``). The values and their
salts never enter the log: they went back to the department with the
answer, and are kept beside the entry (``LogEntry.disclosed``) for the
holder the data is about. Whoever holds values and salts — the department
in a dispute, the holder, an auditor given both — can show they are what
the entry committed to; a changed value, salt, order or count is not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from exchange.auditlog.errors import AuditLogError, InvalidQuery
from exchange.auditlog.models import LogEntry
from exchange.auditlog.proofs import MAX_SUBJECT_RECORDS, b64
from exchange.auditlog.records import embargo_end, parse_entry
from signing import commitments
from signing.transparency import leaf_hash


class AnswerNotVerified(AuditLogError):
    """The answer shown is not the one the entry committed to.

    ``code``: ``no_commitment`` (the entry commits to no answer: a refusal,
    another kind of use, or an entry written before answers were committed
    to), ``unknown_scheme``, or ``answer_mismatch``."""

    code = "answer_mismatch"


@dataclass(frozen=True)
class DisclosedValues:
    """An answer as its holder or recipient has it: the values and their salts, in order."""

    values: list[Any]
    salts: list[str]

    @classmethod
    def from_stored(cls, data: bytes) -> DisclosedValues:
        """From ``LogEntry.disclosed`` (the JSON exchange.auditlog.records writes)."""
        stored = json.loads(bytes(data).decode("utf-8"))
        return cls(values=stored["values"], salts=stored["salts"])


def verify_answer(*, record: dict, values: Sequence[Any], salts: Sequence[str]) -> None:
    """Return when ``values`` with ``salts`` open the digests of ``record``
    (a parsed entry); raise AnswerNotVerified naming why not.

    The record itself must come from the log with its proof (the holder's
    view, an export, an entry bundle): this checks the answer, not the entry."""
    # 1. The entry commits to an answer (format version 2 with "answer").
    answer = record.get("answer") if isinstance(record, dict) else None
    if not isinstance(answer, dict):
        raise AnswerNotVerified("the record commits to no answer", code="no_commitment")
    # 2. With a scheme we know.
    if answer.get("scheme") != commitments.SCHEME:
        raise AnswerNotVerified(f"unknown commitment scheme {answer.get('scheme')!r}", code="unknown_scheme")
    digests = answer.get("digests")
    # 3. Every item, in its place, opens its digest; nothing more, nothing less.
    if not isinstance(digests, list) or not commitments.matches(values=values, salts=salts, digests=digests):
        raise AnswerNotVerified("the values and salts do not open the record's digests", code="answer_mismatch")


def check(*, record: dict, values: Sequence[Any], salts: Sequence[str]) -> dict:
    """``verify_answer`` as a result: ``{"verified": bool, "code": None | why not}``."""
    try:
        verify_answer(record=record, values=values, salts=salts)
    except AnswerNotVerified as refused:
        return {"verified": False, "code": refused.code}
    return {"verified": True, "code": None}


def check_at_index(*, session: Session, index: int, values: Sequence[Any], salts: Sequence[str]) -> dict:
    """The auditor's check of an answer (from a dispute) against entry ``index``."""
    entry = session.scalar(select(LogEntry.entry).where(LogEntry.leaf_index == index))
    if entry is None:
        raise InvalidQuery(f"no entry at index {index}")
    record = parse_entry(bytes(entry))
    return {"index": index, **check(record=record, values=values, salts=salts), "record": record}


_NOT_YOURS = "no record of yours has this leaf hash"


def check_for_holder(*, session: Session, subject_code: str, leaf_hash_b64: str, now: datetime,
                     given: DisclosedValues | None = None) -> dict:
    """The holder's check of one of their own records (named by its leaf hash):
    the answer given (e.g. a department's copy), or else the one kept for them.

    A use still under a covert mandate's embargo at ``now`` is not theirs to
    check yet: a match or a mismatch would tell what the embargo withholds."""
    row = _holder_row(session=session, subject_code=subject_code, leaf_hash_b64=leaf_hash_b64)
    record = parse_entry(bytes(row.entry))
    end = embargo_end(record)
    if end is not None and now < end:
        raise InvalidQuery(_NOT_YOURS)
    answer = given
    if answer is None:
        if row.disclosed is None:
            return {"leaf_hash": leaf_hash_b64, "verified": False, "code": "no_commitment"}
        answer = DisclosedValues.from_stored(row.disclosed)
    return {"leaf_hash": leaf_hash_b64, **check(record=record, values=answer.values, salts=answer.salts)}


def _holder_row(*, session: Session, subject_code: str, leaf_hash_b64: str) -> LogEntry:
    # The leaf hash is not a column: among the holder's own rows (bounded,
    # newest first, as their record view lists them) find the one it names.
    rows = session.scalars(
        select(LogEntry).options(undefer(LogEntry.disclosed)).where(LogEntry.subject_code == subject_code)
        .order_by(LogEntry.id.desc()).limit(MAX_SUBJECT_RECORDS)
    )
    for row in rows:
        if b64(leaf_hash(bytes(row.entry))) == leaf_hash_b64:
            return row
    raise InvalidQuery(_NOT_YOURS)

