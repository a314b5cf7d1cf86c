"""The auditor's requests as validated documents.

Filters travel in request bodies, not URLs: they may name a holder (a citizen
ID number or a USCC), and a URL is written to access logs and proxies' logs
before anything could refuse it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from exchange.auditlog.search import MAX_EXPORT, MAX_PAGE, SearchFilter
from signing.commitments import MAX_ITEMS as MAX_ANSWER_ITEMS
from storage.params import MAX_SQL_INTEGER

_Code = Annotated[str | None, Field(min_length=1, max_length=100)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecordFilterIn(_Body):
    department: _Code = None
    operator: _Code = None
    subject: _Code = Field(default=None, description="a holder's code: 身份证号 or USCC")
    matter: _Code = None
    basis: _Code = None
    result: _Code = None
    since: datetime | None = None
    until: datetime | None = None

    def search_filter(self) -> SearchFilter:
        return SearchFilter(department=self.department, operator=self.operator, subject=self.subject,
                            matter=self.matter, basis=self.basis, result=self.result, since=self.since,
                            until=self.until)


class RecordSearchIn(RecordFilterIn):
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    before_id: int | None = Field(default=None, ge=1, le=MAX_SQL_INTEGER, description="the previous page's `next`")


class ExportIn(RecordFilterIn):
    limit: int = Field(default=MAX_EXPORT, ge=1, le=MAX_EXPORT)


class SubjectRecordsIn(_Body):
    subject: str = Field(min_length=1, max_length=32, description="a holder's code: 身份证号 or USCC")


_Salt = Annotated[str, Field(min_length=32, max_length=32, pattern="^[0-9a-f]{32}$")]


class _AnswerBody(BaseModel):
    # Values are checked exactly as given: no whitespace stripped.
    model_config = ConfigDict(extra="forbid")


class AnswerIn(_AnswerBody):
    """A disclosed answer, as its recipient got it: the items in order and their salts."""

    values: list[Any] = Field(max_length=MAX_ANSWER_ITEMS, description="the disclosed items, in order")
    salts: list[_Salt] = Field(max_length=MAX_ANSWER_ITEMS, description="each item's salt, as returned with it")


class AnswerAtIndexIn(AnswerIn):
    index: int = Field(ge=0, le=MAX_SQL_INTEGER, description="the record's leaf index")


class HolderAnswerCheckIn(_AnswerBody):
    leaf_hash: str = Field(min_length=44, max_length=44, description="the record's leaf hash (base64)")
    answer: AnswerIn | None = Field(default=None, description="an answer to check; none: the one kept for you")
