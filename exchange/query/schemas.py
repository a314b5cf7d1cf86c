"""Query requests and answers as validated documents."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from exchange.query.service import MAX_BATCH_ITEMS, MAX_BATCH_SUBJECTS, MAX_ITEMS, ItemRequest

FieldKey = Annotated[str, Field(min_length=1, max_length=64)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubjectIn(_Body):
    code: str = Field(min_length=1, max_length=18, description="身份证号 (type 111) or USCC (type 001)")
    type: Literal["111", "001"]


class ItemIn(_Body):
    code: str = Field(min_length=1, max_length=40, description="a licence type code or a data item code")
    fields: list[FieldKey] | None = Field(default=None, min_length=1, max_length=200,
                                          description="narrow the answer to these agreed fields")


ItemSpec = Annotated[str, Field(min_length=1, max_length=40)] | ItemIn


class _Common(_Body):
    matter: str = Field(min_length=1, max_length=40, description="the matter (事项) code")
    purpose: str = Field(min_length=1, max_length=200, description="用证事由")
    case_number: str = Field(min_length=1, max_length=64, description="the department's case (办件) number")


class QueryIn(_Common):
    subject: SubjectIn
    items: list[ItemSpec] = Field(min_length=1, max_length=MAX_ITEMS)


class BatchQueryIn(_Common):
    subjects: list[SubjectIn] = Field(min_length=1, max_length=MAX_BATCH_SUBJECTS)
    items: list[ItemSpec] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


def item_requests(items: list[str | ItemIn]) -> list[ItemRequest]:
    return [ItemRequest(code=i) if isinstance(i, str) else
            ItemRequest(code=i.code, fields=tuple(i.fields) if i.fields else None) for i in items]


def hashed_body(body: QueryIn | BatchQueryIn) -> dict:
    """The request body as hashed: items always as objects."""
    document = body.model_dump(mode="json", exclude_none=True)
    document["items"] = [{"code": r.code, **({"fields": list(r.fields)} if r.fields else {})}
                         for r in item_requests(body.items)]
    return document
