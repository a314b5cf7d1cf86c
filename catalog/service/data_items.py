"""Shared data items (GB/T 21063 resource records) and their sharing attribute."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import NotFound, UnknownReference
from catalog.models import DataItem
from catalog.schemas import DataItemIn, DataItemOut
from catalog.service import departments


def get(*, session: Session, code: str) -> DataItem | None:
    return session.scalar(select(DataItem).where(DataItem.code == code))


def get_or_raise(*, session: Session, code: str) -> DataItem:
    item = get(session=session, code=code)
    if item is None:
        raise NotFound(f"data item {code} not found")
    return item


def list_(*, session: Session, provider: str | None = None) -> list[DataItem]:
    query = select(DataItem).order_by(DataItem.code)
    if provider:
        query = query.where(DataItem.provider_code == provider)
    return list(session.scalars(query))


def _values(entry: DataItemIn) -> dict:
    return {
        "name": entry.name,
        "provider_code": entry.provider,
        "abstract": entry.abstract,
        "subject_kind": entry.subject_kind.value,
        "fields": [f.model_dump(mode="json", exclude_none=True) for f in entry.fields],
        "sharing_attribute": entry.sharing.attribute,
        "sharing_conditions": entry.sharing.conditions,
        "not_shared_reason": entry.sharing.reason,
        "open_attribute": entry.open_attribute,
        "update_cycle": entry.update_cycle,
        "adapter_kind": entry.adapter.kind if entry.adapter else None,
        "adapter_name": entry.adapter.name if entry.adapter else None,
    }


def upsert(*, session: Session, entry: DataItemIn) -> bool:
    if departments.get(session=session, code=entry.provider) is None:
        raise UnknownReference(
            f"data item {entry.code} ({entry.name}): provider {entry.provider} is not a known department"
        )
    values = _values(entry)
    item = get(session=session, code=entry.code)
    if item is None:
        session.add(DataItem(code=entry.code, **values))
        return True
    changed = False
    for attr, value in values.items():
        if getattr(item, attr) != value:
            setattr(item, attr, value)
            changed = True
    return changed


def to_schema(item: DataItem) -> DataItemOut:
    sharing: dict = {"attribute": item.sharing_attribute}
    if item.sharing_conditions is not None:
        sharing["conditions"] = item.sharing_conditions
    if item.not_shared_reason is not None:
        sharing["reason"] = item.not_shared_reason
    adapter = {"kind": item.adapter_kind, "name": item.adapter_name} if item.adapter_kind else None
    # Validated from the stored row like any other input (the columns are plain text and JSON).
    return DataItemOut.model_validate(
        {
            "code": item.code,
            "name": item.name,
            "provider": item.provider_code,
            "abstract": item.abstract,
            "subject_kind": item.subject_kind,
            "fields": item.fields,
            "sharing": sharing,
            "open_attribute": item.open_attribute,
            "update_cycle": item.update_cycle,
            "adapter": adapter,
        }
    )
