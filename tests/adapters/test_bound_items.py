"""A fetch for a catalog snapshot of a data item (not the ORM row): field
specs parsed once per snapshot, and a changed snapshot is parsed afresh."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from adapters.errors import BindingMismatch, InvalidData
from adapters.sources import BindingRegistry
from tests.factories.adapters import COMPANY, ENTERPRISE_DATA, ENTERPRISE_FIELDS


@dataclass(frozen=True)
class Snapshot:
    code: str
    subject_kind: str
    fields: tuple
    adapter_kind: str | None = "http"
    adapter_name: str | None = "samr_enterprise"


def _registry(base_url: str) -> BindingRegistry:
    return BindingRegistry.from_mapping({"http": [{
        "name": "samr_enterprise", "url": base_url + "/enterprises/{subject}", "records": "/data",
        "fields": {"name": "/name", "status": "/status", "founded": "/founded", "capital": "/capital"},
        "retries": {"attempts": 1},
    }]}, environ={})


def test_a_changed_snapshot_is_checked_afresh(provider):
    record = {"name": "福州示例餐饮有限公司", "status": "存续", "founded": "2015-06-01", "capital": 500}
    provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps({"data": record}).encode())
    registry = _registry(provider.base_url)
    try:
        snapshot = Snapshot(code=ENTERPRISE_DATA, subject_kind="organisation",
                            fields=tuple(ENTERPRISE_FIELDS))
        assert registry.fetch(data_item=snapshot, subject=COMPANY) == [record]
        assert registry.fetch(data_item=snapshot, subject=COMPANY) == [record]
        # The catalog gained a field the binding does not map: the next snapshot says so.
        grown = Snapshot(code=ENTERPRISE_DATA, subject_kind="organisation", fields=(*ENTERPRISE_FIELDS, {"key": "scope", "label": "经营范围", "type": "string"}))
        with pytest.raises(BindingMismatch, match="scope"):
            registry.fetch(data_item=grown, subject=COMPANY)
        # ...and a retyped field is checked by its new type.
        retyped = Snapshot(code=ENTERPRISE_DATA, subject_kind="organisation", fields=tuple(
            {"key": "name", "label": spec["label"], "type": "number"} if spec["key"] == "name" else spec
            for spec in ENTERPRISE_FIELDS))
        with pytest.raises(InvalidData, match=r"field .name. \(number\)"):
            registry.fetch(data_item=retyped, subject=COMPANY)
    finally:
        registry.close()
