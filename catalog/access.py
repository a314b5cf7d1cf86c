"""The authorized-use record, and the port through which lower packages
append it to the log without importing the log.

Registry and exchange code that hands out licence or shared data records
each use, and each refused attempt, in the authorized-use log
(exchange.auditlog). The registry may not import exchange
(docs/architecture.md), so the record's type and the port live here: a
producer builds ``UseRecord``s and calls ``UseLog.append`` on the log it
was handed. The app registers the log's implementation
(``exchange.auditlog.recorder.UseRecorder``) in its services under
``UseLog``; routes fetch it by that type and pass it to the use case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from catalog.errors import CatalogError

KINDS = frozenset(
    {
        "redemption",  # a holder's 亮证 code redeemed at a counter
        "department_query",
        "layout_download",  # 版式文件
        "annotated_copy_download",  # 加注件
        "holder_access",  # the holder reading their own licence
        "proxy_access",  # a proxy (代办人) reading the licences of a holder who delegated to them
        "supervision_access",
        "credential_presentation",  # a holder's wallet presenting a credential to a relying party (OpenID4VP)
    }
)
FIXED_BASES = frozenset(
    {"holder_presentation", "unconditional_sharing", "supervision_mandate", "holder_self", "issuer",
     # The holder's wallet disclosed the claims itself, with its key: the presentation is the consent.
     "holder_presented_credential"}
)
RESULTS = frozenset({"granted", "denied"})
MAX_PURPOSE = 200
MAX_CASE_NUMBER = 64
MAX_LIST = 100
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:\-]{0,99}")
_DATA_ITEM = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:/\-]{0,99}")
_CONSENT = re.compile(r"consent:[0-9A-Za-z._\-]{1,64}")
# A proxy acting under the holder's delegation (registry_delegations.id): the
# holder reads in their own records which of their delegations was used.
_DELEGATION = re.compile(r"delegation:[1-9][0-9]{0,17}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_HEX_SALT = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f]")  # C0 controls: a record is one line of text per field


def delegation_basis(delegation_id: int) -> str:
    """The basis of a use a proxy makes under the delegation ``delegation_id``."""
    return f"delegation:{delegation_id}"


class InvalidUseRecord(CatalogError):
    """A use record breaks a rule; the message names the field."""

    code = "invalid_record"


@dataclass(frozen=True, slots=True)
class DisclosedAnswer:
    """What one granted use disclosed, item by item (a licence, a provider's
    record), with a salted commitment to each (``signing.commitments``, made
    by the producer, which may import signing where this module may not).

    The log's entry holds only the ``digests``; the ``values`` and ``salts``
    are kept beside it for the holder the data is about and go back to the
    recipient with the answer, so either can later prove what went out."""

    values: tuple[Any, ...]
    salts: tuple[str, ...]
    digests: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("values", "salts", "digests"):
            if type(getattr(self, name)) is not tuple:
                raise InvalidUseRecord(f"answer {name} must be a tuple")
        if not len(self.values) == len(self.salts) == len(self.digests) or len(self.values) > MAX_LIST:
            raise InvalidUseRecord(f"answer: as many values, salts and digests, at most {MAX_LIST}")
        if not all(isinstance(salt, str) and _HEX_SALT.fullmatch(salt) for salt in self.salts):
            raise InvalidUseRecord("answer salts must be 32 lowercase hex digits")
        if not all(isinstance(digest, str) and _HEX_DIGEST.fullmatch(digest) for digest in self.digests):
            raise InvalidUseRecord("answer digests must be lowercase hex SHA-256 digests")


@dataclass(frozen=True, slots=True)
class UseRecord:
    """One use of licence or shared data (or one refused attempt), as the
    log keeps it. Built only valid: the constructor checks every field and
    raises InvalidUseRecord naming the first one that breaks a rule. The
    three lists may be given as any sequence and are kept as tuples."""

    kind: str
    department_code: str
    operator_id: str
    basis: str
    result: str = "granted"
    reason_code: str | None = None
    subject_code: str | None = None
    licence_ids: tuple[str, ...] = ()
    data_items: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    matter_code: str | None = None
    purpose: str | None = None
    case_number: str | None = None
    request_hash: str | None = None
    # The commitment to what went out (None: this kind of use commits to none,
    # e.g. a layout download, whose document is sealed and itself evidence).
    answer: DisclosedAnswer | None = None
    # Covert supervision (a mandate with an embargo): the subject's own view
    # of the log shows this use only from this instant on.
    embargo_until: datetime | None = None

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, KINDS)
        _check_choice("result", self.result, RESULTS)
        if self.basis not in FIXED_BASES and not (
                _CONSENT.fullmatch(str(self.basis)) or _DELEGATION.fullmatch(str(self.basis))):
            raise InvalidUseRecord(f"basis must be one of {sorted(FIXED_BASES)}, consent:<id> or delegation:<id>")
        _check_code("department_code", self.department_code, max_len=18)
        _check_code("operator_id", self.operator_id, max_len=64)
        for name, value, limit in (
            ("subject_code", self.subject_code, 32),
            ("matter_code", self.matter_code, 64),
            ("reason_code", self.reason_code, 64),
        ):
            if value is not None:
                _check_code(name, value, max_len=limit)
        for name in ("licence_ids", "data_items", "fields"):
            values = getattr(self, name)
            _check_list(name, values)
            if type(values) is not tuple:  # frozen: set once, here, for a list the caller gave
                object.__setattr__(self, name, tuple(values))
        if self.result == "denied":
            if self.reason_code is None:
                raise InvalidUseRecord("a denied attempt needs a reason_code")
            # A denied attempt disclosed nothing; recording "fields" would mislead.
            if self.fields or self.answer is not None:
                raise InvalidUseRecord("a denied attempt discloses no fields and no answer")
        else:
            if self.reason_code is not None:
                raise InvalidUseRecord("reason_code is only for denied attempts")
            # SPEC: domain rule — purpose (用证事由) is mandatory on every access.
            if not self.purpose or not isinstance(self.purpose, str) or not self.purpose.strip():
                raise InvalidUseRecord("purpose is required for a granted access")
        if self.purpose is not None:
            _check_text("purpose", self.purpose, MAX_PURPOSE)
        if self.case_number is not None:
            _check_text("case_number", self.case_number, MAX_CASE_NUMBER)
        if self.request_hash is not None and not (
                isinstance(self.request_hash, str) and _HEX_DIGEST.fullmatch(self.request_hash)):
            raise InvalidUseRecord("request_hash must be a lowercase hex SHA-256 digest")
        if self.answer is not None and not isinstance(self.answer, DisclosedAnswer):
            raise InvalidUseRecord("answer must be a DisclosedAnswer")
        if self.embargo_until is not None:
            if not isinstance(self.embargo_until, datetime) or self.embargo_until.tzinfo is None:
                raise InvalidUseRecord("embargo_until must be a timezone-aware datetime")
            if self.basis != "supervision_mandate":
                raise InvalidUseRecord("only a use under a supervision mandate may be embargoed")


class UseLog:
    """The authorized-use log as its producers see it: the interface the
    log's implementation (``exchange.auditlog.recorder.UseRecorder``)
    subclasses, and the type the app's services find it by. A plain class
    rather than a Protocol so that it can be such a key (a Protocol is no
    concrete type) and an instance checked against it when registered."""

    def check_serving(self, *, session: Session) -> None:
        """Raise (a LogUnavailable) when data must not be served now."""
        raise NotImplementedError

    def append(self, *, session: Session, records: Sequence[UseRecord]) -> int:
        """Write ``records`` (one request's: one or many) in ``session``'s
        transaction, all of them or none; the count. Refused (raises, nothing
        written) while the log is not healthy when any of them is granted."""
        raise NotImplementedError

    def has_used(self, *, session: Session, department_code: str, subject_code: str,
                 licence_ids: Sequence[str]) -> bool:
        """Whether a granted use by the department (a query answered, a code
        redeemed) names one of ``licence_ids``: the interest that lets it
        dispute a licence (registry.service.disputes)."""
        raise NotImplementedError


def _check_choice(name: str, value: object, allowed: frozenset[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidUseRecord(f"{name} must be one of {sorted(allowed)}")


def _check_code(name: str, value: object, *, max_len: int) -> None:
    if not isinstance(value, str) or len(value) > max_len or not _CODE.fullmatch(value):
        raise InvalidUseRecord(f"{name} must be a code of 1..{max_len} letters, digits or ._:-")


def _check_text(name: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidUseRecord(f"{name} must be text of at most {limit} characters")
    if _CONTROL.search(value):
        raise InvalidUseRecord(f"{name} must not contain control characters")


def _check_list(name: str, values: object) -> None:
    if not isinstance(values, (list, tuple)) or len(values) > MAX_LIST:
        raise InvalidUseRecord(f"{name} must be a list of at most {MAX_LIST} codes")
    for value in values:
        # Field names come from catalog schemas and may be Chinese; codes may not.
        if name == "fields":
            _check_text(name, value, 64)
        elif name == "data_items":
            # SPEC: GB/T 21063.4 resource codes carry a '/' ("102/000001").
            if not isinstance(value, str) or len(value) > 100 or not _DATA_ITEM.fullmatch(value):
                raise InvalidUseRecord("data_items must be codes of letters, digits, '/' or ._:-")
        else:
            _check_code(name, value, max_len=100)
