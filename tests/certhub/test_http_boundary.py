"""The HTTP boundary: whatever a client sends, the answer is a 4xx in the
project's error format ({"error": code, "message": text}), never a 500, and
who is calling is checked before anything else is said."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from adapters.sources.registry import BindingRegistry
from catalog.service import document
from certhub.app import create_app
from identity import clients
from identity.codes import citizen_id_check_character
from identity.holder_auth import HolderAuthority
from storage.cache import InProcessCache
from storage.params import MAX_SQL_INTEGER
from tests.factories.catalog import CITY_SAMR, catalog_mapping
from tests.web.live import ServerThread

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
@pytest.mark.slow
def test_public_ids_past_the_database_integer_are_refused(client, path):
    _refused(client.get(path), 422, "invalid_request")


@pytest.mark.slow
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


@pytest.mark.slow
def test_data_return_checks_the_caller_before_the_configuration(client, db_session, app):
    assert app.state.services.find_optional(BindingRegistry) is None  # no bindings: the routes that need them answer 503
    body = {"dataset": "x", "purpose": "p", "target": "t"}
    _refused(client.post("/api/v1/data-return/tickets", json=body), 401, "unauthenticated")
    _refused(client.post("/api/v1/data-return/tickets/1/deliveries"), 401, "unauthenticated")
    wrong_scope = _headers(client, db_session, ["licence:issue"])
    _refused(client.post("/api/v1/data-return/tickets", json=body, headers=wrong_scope), 403, "forbidden")
    _refused(client.post("/api/v1/data-return/tickets/1/deliveries", headers=wrong_scope), 403, "forbidden")
    bureau = _headers(client, db_session, ["catalog:admin"])
    _refused(client.post("/api/v1/data-return/tickets/1/deliveries", headers=bureau), 503, "invalid_adapter_config")


@pytest.mark.slow
def test_malformed_json_unknown_paths_and_methods_answer_in_the_project_format(client):
    malformed = client.post("/api/v1/holders/session", content=b'{"id_token": ',
                            headers={"Content-Type": "application/json"})
    _refused(malformed, 422, "invalid_request")
    _refused(client.post("/api/v1/holders/session", json=["not", "an", "object"]), 422, "invalid_request")
    _refused(client.get("/api/v1/no-such-thing"), 404, "not_found")
    _refused(client.delete("/healthz"), 405, "method_not_allowed")


# --- request bodies: one limit, refused before they are read past it ---------------------------------

LIMIT = 64 * 1024
CHUNK = 16 * 1024


def _run_asgi(app, *, headers: list[tuple[bytes, bytes]], chunks: int) -> tuple[int, dict, int]:
    """POST /api/v1/holders/session with a body of ``chunks`` chunks, as a
    server would pass it on; the status, the JSON answer and how many chunks
    the app asked for."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        if pulled > chunks:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"a" * CHUNK, "more_body": pulled < chunks}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/v1/holders/session", "raw_path": b"/api/v1/holders/session",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers]}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


@pytest.fixture
def small_limit_app(settings, migrated_engine, session_factory):
    application = create_app(settings.model_copy(update={"max_request_body_bytes": LIMIT}),
                             engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    return application


def test_a_declared_length_over_the_limit_is_refused_unread(small_limit_app):
    total = 50 * 1024 * 1024 // CHUNK
    status, body, pulled = _run_asgi(small_limit_app, chunks=total,
                                     headers=[(b"content-length", str(total * CHUNK).encode())])
    assert (status, body["error"]) == (413, "too_large")
    assert pulled == 0


def test_a_chunked_body_is_counted_as_it_arrives(small_limit_app):
    total = 50 * 1024 * 1024 // CHUNK
    status, body, pulled = _run_asgi(small_limit_app, chunks=total, headers=[(b"transfer-encoding", b"chunked")])
    assert (status, body["error"]) == (413, "too_large")
    assert pulled == LIMIT // CHUNK + 1  # the chunk that crossed the limit, and not one more


def test_a_body_within_the_limit_reaches_the_route(small_limit_app):
    status, body, _ = _run_asgi(small_limit_app, chunks=1, headers=[(b"content-length", str(CHUNK).encode())])
    assert (status, body["error"]) == (422, "invalid_request")  # the route's own parsing: not JSON


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        received = sock.recv(65536)
        assert received, "the server closed the connection without an answer"
        data += received
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(rest) < int(headers["content-length"]):
        received = sock.recv(65536)
        assert received, "the answer was cut short"
        rest += received
    return int(status_line.split()[1]), headers, rest


@pytest.fixture
def served(app):
    server = ServerThread(app)
    port = server.start()
    yield port
    server.stop()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_server_refuses_a_large_body_before_it_has_all_of_it(served, framing):
    # The default limit, 1 MiB. The client sends a part of a 50 MB body and
    # then waits: the 413 comes while the rest was never sent.
    part = b"a" * (1024 * 1024 + CHUNK)
    with socket.create_connection(("127.0.0.1", served), timeout=30) as sock:
        head = ("POST /api/v1/holders/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + ("Content-Length: 52428800\r\n" if framing == "content-length" else "Transfer-Encoding: chunked\r\n")
                + "\r\n").encode()
        sock.sendall(head)
        if framing == "chunked":
            # The last chunk, the one that crosses the limit, goes without its
            # closing CRLF: the server holds every byte sent when it answers
            # (a close with bytes unread would reset the connection).
            chunks = [b"%x\r\n" % CHUNK + part[offset:offset + CHUNK] for offset in range(0, len(part), CHUNK)]
            sock.sendall(b"\r\n".join(chunks))
        status, headers, body = _read_response(sock)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["error"] == "too_large"


# --- caching: API answers are not stored unless their route allows it ----------------------------------


def _not_stored(answer) -> None:
    assert answer.headers.get("cache-control") == "no-store", answer.headers
    assert answer.headers.get("pragma") == "no-cache", answer.headers


@pytest.mark.slow
def test_api_answers_are_not_stored_by_any_cache(client, db_session, app):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="boundary tests", scopes=["exchange:query"])
    db_session.commit()
    # SPEC: RFC 6749 §5.1 — the token response: Cache-Control: no-store and Pragma: no-cache.
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(new.client_id, new.client_secret))
    assert token.status_code == 200
    _not_stored(token)
    department = {"Authorization": f"Bearer {token.json()['access_token']}"}
    _not_stored(client.get("/api/v1/data-return/tickets", headers=department))
    authority = app.state.services.find(HolderAuthority)
    code = "35010219900101123" + citizen_id_check_character("35010219900101123")
    holder = authority.new_principal(holder_code=code, holder_code_type="111", name="张三",
                                     auth_method="dev")
    wallet = client.get("/api/v1/holders/me/licences",
                        headers={"Authorization": f"Bearer {authority.issue(principal=holder)}"})
    assert wallet.status_code == 200, wallet.text
    _not_stored(wallet)
    _not_stored(client.get("/api/v1/status-lists/999999"))  # refusals too
    _not_stored(client.post("/api/v1/holders/session", content=b"{", headers={"Content-Type": "application/json"}))


@pytest.mark.slow
def test_a_route_that_chose_public_caching_keeps_it(app):
    @app.get("/api/v1/test-public-list")
    def public_list() -> Response:  # as the status lists and their keys answer
        return Response("{}", media_type="application/json", headers={"Cache-Control": "public, max-age=300"})

    with TestClient(app) as client:
        answer = client.get("/api/v1/test-public-list")
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert "pragma" not in answer.headers
