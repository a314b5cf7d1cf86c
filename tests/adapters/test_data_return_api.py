"""The data-return router, mounted as the app will mount it: HTTP in,
service calls, HTTP out; who may do what comes from the access token."""

from __future__ import annotations

import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from adapters.api import data_return_router
from adapters.errors import AdapterError, IllegalTransition, NotPermitted, TicketNotFound
from adapters.sources.registry import BindingRegistry
from identity import clients
from tests.factories.adapters import DATA_BUREAU, FUZHOU, POPULATION_DATA, PROVINCE_POLICE, XIAMEN
from tests.factories.population import FUZHOU_IDS, population_registry, read_jsonl

# The statuses the composition layer's error table is expected to give these errors.
_STATUS = [(TicketNotFound, 404), (NotPermitted, 403), (IllegalTransition, 409), (AdapterError, 422)]


async def _adapter_error(request, exc: AdapterError):
    status = next(s for cls, s in _STATUS if isinstance(exc, cls))
    return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=status)


@pytest.fixture
def api(app, police_db, tmp_path, adapters_catalog):
    registry = population_registry(police_db, tmp_path)
    app.include_router(data_return_router)
    app.add_exception_handler(AdapterError, _adapter_error)
    app.state.services.register(BindingRegistry, registry)
    with TestClient(app) as test_client:
        yield test_client
    registry.close()


def _headers(api, db_session, department, scopes):
    new = clients.create(session=db_session, department_code=department, name="system", scopes=scopes)
    db_session.commit()
    response = api.post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": new.client_id, "client_secret": new.client_secret})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_whole_flow_over_http(api, db_session, tmp_path):
    city = _headers(api, db_session, FUZHOU, ["exchange:query"])
    police = _headers(api, db_session, PROVINCE_POLICE, ["exchange:provide"])
    bureau = _headers(api, db_session, DATA_BUREAU, ["catalog:admin"])
    base = "/api/v1/data-return/tickets"

    created = api.post(base, json={"dataset": POPULATION_DATA, "purpose": "基层治理", "target": "fuzhou_files"}, headers=city)
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert (ticket["status"], ticket["region"], ticket["provider"], ticket["bureau"]) == ("requested", "350100", PROVINCE_POLICE, DATA_BUREAU)
    url = f"{base}/{ticket['id']}"

    early = api.post(f"{url}/deliveries", headers=bureau)
    assert (early.status_code, early.json()["error"]) == (409, "illegal_transition")
    confirmed = api.post(f"{url}/provider-decision", json={"decision": "confirm", "legal_basis": "《数据安全法》第三十八条"}, headers=police)
    assert confirmed.json()["status"] == "provider_confirmed"
    approved = api.post(f"{url}/bureau-decision", json={"decision": "approve"}, headers=bureau)
    assert approved.json()["status"] == "approved"
    delivered = api.post(f"{url}/deliveries", headers=bureau)
    assert delivered.status_code == 201 and delivered.json()["rows_sent"] == len(FUZHOU_IDS)
    (only,) = list((tmp_path / "fuzhou_files").glob("*.jsonl"))
    assert {r["id"] for r in read_jsonl(only)} == FUZHOU_IDS

    listed = api.get(f"{url}/deliveries", headers=city).json()
    assert [(d["sequence"], d["rows_sent"]) for d in listed] == [(1, 4)]
    assert [t["id"] for t in api.get(base, headers=police).json()] == [ticket["id"]]


def test_scopes_and_parties_are_enforced(api, db_session):
    city = _headers(api, db_session, FUZHOU, ["exchange:query"])
    other_city = _headers(api, db_session, XIAMEN, ["exchange:query", "exchange:provide"])
    base = "/api/v1/data-return/tickets"
    assert api.post(base, json={"dataset": POPULATION_DATA, "purpose": "p", "target": "fuzhou_files"}).status_code == 401
    ticket = api.post(base, json={"dataset": POPULATION_DATA, "purpose": "p", "target": "fuzhou_files"}, headers=city).json()
    url = f"{base}/{ticket['id']}"
    assert api.post(f"{url}/provider-decision", json={"decision": "confirm", "legal_basis": "x"}, headers=city).status_code == 403
    refused = api.post(f"{url}/provider-decision", json={"decision": "confirm", "legal_basis": "x"}, headers=other_city)
    assert (refused.status_code, refused.json()["error"]) == (403, "not_permitted")
    assert api.get(url, headers=other_city).status_code == 404
    assert api.post(base, json={"dataset": POPULATION_DATA, "purpose": "p", "target": "t", "extra": 1}, headers=city).status_code == 422
