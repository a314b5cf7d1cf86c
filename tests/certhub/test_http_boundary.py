"""The HTTP boundary: whatever a client sends, the answer is a 4xx in the
project's error format ({"error": code, "message": text}), never a 500, and
who is calling is checked before anything else is said."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from catalog.params import MAX_SQL_INTEGER
from catalog.service import clients, document
from tests.catalog.factories import CITY_SAMR, catalog_mapping

HUGE = "99999999999999999999999"  # past 2^63: no database integer holds it


def _headers(client, db_session, scopes: list[str]) -> dict:
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="boundary tests", scopes=scopes)
    db_session.commit()
    answer = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(new.client_id, new.client_secret))
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _refused(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == code, body
    return body


def test_a_seal_status_that_is_no_status_is_refused(client):
    _refused(client.get("/api/v1/seals", params={"status": "null"}), 422, "invalid_request")
    assert client.get("/api/v1/seals", params={"status": "active"}).status_code == 200


@pytest.mark.parametrize("path", [
    f"/api/v1/status-lists/{HUGE}",
    f"/api/v1/status-lists/{HUGE}/key",
    "/api/v1/status-lists/-1",
])
def test_public_ids_past_the_database_integer_are_refused(client, path):
    _refused(client.get(path), 422, "invalid_request")


def test_ids_past_the_database_integer_are_refused_after_the_caller_is_known(client, db_session):
    headers = _headers(client, db_session, ["catalog:admin", "licence:manage", "audit:read", "seal:admin"])
    # Who is calling first: without a token the size of the number is not discussed.
    _refused(client.get(f"/api/v1/data-return/tickets/{HUGE}"), 401, "unauthenticated")
    for method, path in [
        ("GET", f"/api/v1/data-return/tickets/{HUGE}"),
        ("POST", f"/api/v1/data-return/tickets/{HUGE}/close"),
        ("GET", f"/api/v1/data-return/tickets/{HUGE}/deliveries"),
        ("GET", f"/api/v1/licences/disputes/{HUGE}"),
        ("POST", f"/api/v1/seals/ES-1/authorizations/{HUGE}/revoke"),
        ("GET", f"/api/v1/audit/proofs/inclusion?index={HUGE}&size=1"),
        ("GET", f"/api/v1/audit/proofs/consistency?old=1&new={HUGE}"),
        ("GET", f"/api/v1/catalog/licence-types/x?version={HUGE}"),
    ]:
        _refused(client.request(method, path, headers=headers), 422, "invalid_request")


def _bounded(field) -> bool:
    bounds = [getattr(m, "le", None) for m in field.field_info.metadata] + \
             [getattr(m, "lt", None) for m in field.field_info.metadata]
    return any(bound is not None and bound <= MAX_SQL_INTEGER + 1 for bound in bounds)


def _path_and_query(dependant):
    yield from dependant.path_params
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _path_and_query(sub)


def test_every_integer_in_a_path_or_query_has_an_upper_bound(app):
    unbounded = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for field in _path_and_query(route.dependant):
            annotation = field.field_info.annotation
            if int in (annotation, *getattr(annotation, "__args__", ())) and not _bounded(field):
                unbounded.append(f"{route.path} {field.name}")
    assert unbounded == []


def test_data_return_checks_the_caller_before_the_configuration(client, db_session, app):
    assert app.state.adapter_bindings is None  # no bindings: the routes that need them answer 503
    body = {"dataset": "x", "purpose": "p", "target": "t"}
    _refused(client.post("/api/v1/data-return/tickets", json=body), 401, "unauthenticated")
    _refused(client.post("/api/v1/data-return/tickets/1/deliveries"), 401, "unauthenticated")
    wrong_scope = _headers(client, db_session, ["licence:issue"])
    _refused(client.post("/api/v1/data-return/tickets", json=body, headers=wrong_scope), 403, "forbidden")
    _refused(client.post("/api/v1/data-return/tickets/1/deliveries", headers=wrong_scope), 403, "forbidden")
    bureau = _headers(client, db_session, ["catalog:admin"])
    _refused(client.post("/api/v1/data-return/tickets/1/deliveries", headers=bureau), 503, "invalid_adapter_config")


def test_malformed_json_unknown_paths_and_methods_answer_in_the_project_format(client):
    malformed = client.post("/api/v1/holders/session", content=b'{"id_token": ',
                            headers={"Content-Type": "application/json"})
    _refused(malformed, 422, "invalid_request")
    _refused(client.post("/api/v1/holders/session", json=["not", "an", "object"]), 422, "invalid_request")
    _refused(client.get("/api/v1/no-such-thing"), 404, "not_found")
    _refused(client.delete("/healthz"), 405, "method_not_allowed")
