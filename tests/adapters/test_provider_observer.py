"""Every call to a provider's system is told to the registry's observer
(the app's metrics): binding, outcome, time taken, circuit state after it;
never the subject. Against a real loopback provider."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY

from adapters.errors import CircuitOpen, ProviderUnavailable
from adapters.sources import BindingRegistry, fetch_records
from certhub.metrics import ProviderMetrics
from tests.factories.adapters import COMPANY, ENTERPRISE_DATA

pytestmark = pytest.mark.slow  # a real provider server on loopback

FIELDS = {"name": "/data/entName", "status": "data.reg.status", "founded": "/data/estDate", "capital": "data.capital"}
GOOD = {"data": {"entName": "福州示例餐饮有限公司", "reg": {"status": "存续"}, "estDate": "2015-06-01", "capital": 500}}


class Calls:
    """The adapters' ProviderObserver, keeping what it is told."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def call_finished(self, **told) -> None:
        self.seen.append(told)


def _registry(base_url: str, observer) -> BindingRegistry:
    registry = BindingRegistry.from_mapping({"http": [{
        "name": "samr_enterprise", "url": base_url + "/enterprises/{subject}", "fields": FIELDS,
        "timeouts": {"connect": 0.5, "read": 0.5, "deadline": 1.0}, "retries": {"attempts": 1},
        "circuit": {"failure_threshold": 2, "cooldown": 60}}]}, environ={})
    registry.observer = observer
    return registry


def _fetch(session, registry):
    return fetch_records(session=session, registry=registry, data_item_code=ENTERPRISE_DATA, subject=COMPANY)


def test_each_call_is_told_with_its_outcome_and_the_circuit_state(provider, db_session, adapters_catalog):
    calls = Calls()
    registry = _registry(provider.base_url, calls)
    try:
        provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(GOOD).encode())
        assert _fetch(db_session, registry)
        provider.routes["/enterprises"] = lambda h: h.reply(500, b"oops")
        for _ in range(2):
            with pytest.raises(ProviderUnavailable):
                _fetch(db_session, registry)
        with pytest.raises(CircuitOpen):
            _fetch(db_session, registry)
    finally:
        registry.close()
    assert [(c["binding"], c["outcome"], c["circuit_state"]) for c in calls.seen] == [
        ("samr_enterprise", "ok", "closed"),
        ("samr_enterprise", "provider_unavailable", "closed"),
        ("samr_enterprise", "provider_unavailable", "open"),
        ("samr_enterprise", "circuit_open", "open"),
    ]
    assert all(c["seconds"] >= 0 for c in calls.seen)
    assert COMPANY not in repr(calls.seen)


def test_the_apps_metrics_count_provider_calls(provider, db_session, adapters_catalog):
    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = sample("certhub_provider_call_duration_seconds_count", binding="samr_enterprise", outcome="ok")
    registry = _registry(provider.base_url, ProviderMetrics())
    try:
        provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(GOOD).encode())
        assert _fetch(db_session, registry)
    finally:
        registry.close()
    assert sample("certhub_provider_call_duration_seconds_count", binding="samr_enterprise", outcome="ok") == before + 1
    assert sample("certhub_provider_circuit_state", binding="samr_enterprise") == 0
