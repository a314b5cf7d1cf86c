"""The exchange query as served: on PostgreSQL its own asynchronous
autocommit engine, on the event loop, two statements (the agreement read,
one INSERT of every record) and no transaction round trips; on SQLite the
app's transactions in a worker thread. Everything it logged is committed
when it answers.

These tests need data other connections can see, so they build a database
of their own with the world committed in it, instead of the savepoint world.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text
from sqlalchemy.orm import sessionmaker

from adapters.sources.registry import BindingRegistry
from certhub.app import create_app
from certhub.db import create_db_engine, create_query_engine, upgrade
from certhub.settings import Settings
from exchange.auditlog.models import LogEntry
from exchange.auditlog.records import ROWS_PER_STATEMENT, parse_entry
from exchange.query.service import MAX_ITEMS
from identity import clients
from storage.cache import InProcessCache
from tests.adapters import loopback
from tests.environment import DATABASE_BACKENDS, engine_on_schema
from tests.factories.exchange import (
    COMPANY,
    COUNTER,
    CRIMINAL_RECORD,
    ENTERPRISE_DATA,
    RESTAURANT,
    bindings_for,
    enterprise_register,
    load_world,
)
from tests.factories.settings import TEST_SECRET

POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")


def test_a_query_s_records_always_fit_one_statement():
    # What makes the records of one query all-or-nothing without a transaction.
    assert MAX_ITEMS <= ROWS_PER_STATEMENT


def test_sqlite_has_no_query_engine(tmp_path):
    assert create_query_engine(f"sqlite:///{tmp_path / 'certhub.sqlite3'}") is None


@pytest.fixture(scope="module", params=DATABASE_BACKENDS)
def committed_world(request, tmp_path_factory):
    """The world committed in a database of its own, and the engines the
    app would build for it: on SQLite no query engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'certhub.sqlite3'}"
        engine, cleanup = create_db_engine(url, serve_requests=True), None
    else:
        schema = f"certhub_test_ac_{secrets.token_hex(3)}"
        cleanup = create_db_engine(POSTGRES_URL)
        with cleanup.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = engine_on_schema(POSTGRES_URL, schema)
        separator = "&" if "?" in POSTGRES_URL else "?"
        url = f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    # What create_app builds from the settings' URL.
    query_engine = create_query_engine(url)
    try:
        upgrade(engine)
        with sessionmaker(bind=engine, expire_on_commit=False)() as session:
            load_world(session)
            new = clients.create(session=session, department_code=COUNTER, name="counter",
                                 scopes=["exchange:query"])
            session.commit()
        yield engine, query_engine, (new.client_id, new.client_secret)
    finally:
        if query_engine is not None:
            asyncio.run(query_engine.dispose())
        engine.dispose()
        if cleanup is not None:
            with cleanup.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            cleanup.dispose()


@pytest.fixture(scope="module")
def served(committed_world, tmp_path_factory):
    engine, query_engine, credentials = committed_world
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path_factory.mktemp("data"),
                        registry_id="https://registry.test")
    app = create_app(settings, engine=engine, query_engine=query_engine, cache=InProcessCache())
    register = enterprise_register()
    bindings = bindings_for(register.base_url)
    app.state.services.register(BindingRegistry, bindings)
    try:
        with TestClient(app) as client:
            token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                                auth=credentials).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "X-Operator-Id": "clerk-07"}
            applied = client.post("/api/v1/exchange/agreements", headers=headers, json={
                "item": ENTERPRISE_DATA, "matters": [RESTAURANT], "fields": ["name", "registration_status"],
                "reason": "开餐馆一件事免提交营业执照"})
            assert applied.status_code == 201, applied.text
            yield client, headers, engine, query_engine
    finally:
        bindings.close()
        loopback.stop(register)


def _statements(engine, monkeypatch) -> list[str]:
    """The statements that reach the database: on the async engine counted
    at psycopg's cursor, which both SQLAlchemy's execution and the query's
    driver statements (storage.driver_statements) go through."""
    seen: list[str] = []
    if hasattr(engine, "sync_engine"):
        import psycopg

        execute = psycopg.AsyncCursor.execute

        async def counted(cursor, query, *args, **kwargs):
            seen.append(str(query).split(None, 1)[0].upper())
            return await execute(cursor, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncCursor, "execute", counted)
        return seen

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_connection, _cursor, statement, *_args):
        seen.append(statement.split(None, 1)[0].upper())

    return seen


def _through_sqlalchemy(engine) -> list[str]:
    seen: list[str] = []
    engine = getattr(engine, "sync_engine", engine)  # an async engine's events are its sync core's

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_connection, _cursor, statement, *_args):
        seen.append(statement.split(None, 1)[0].upper())

    return seen


def _query(client, headers, items: list[str]) -> dict:
    response = client.post("/api/v1/exchange/query", headers=headers, json={
        "subject": {"code": COMPANY, "type": "001"}, "items": items, "matter": RESTAURANT,
        "purpose": "开餐馆一件事：核验企业登记状态", "case_number": "ZC-2026-11"})
    assert response.status_code == 200, response.text
    return response.json()


def _logged(engine, request_hash: str) -> list[dict]:
    # A connection of the app's own pool: it sees only what was committed.
    with engine.connect() as connection:
        entries = connection.execute(select(LogEntry.entry)).scalars().all()
    return [e for e in map(parse_entry, map(bytes, entries)) if e["request_hash"] == request_hash]


async def _driver_autocommit(query_engine) -> bool:
    async with query_engine.connect() as connection:
        raw = await connection.get_raw_connection()
        return raw.driver_connection.autocommit


def test_postgresql_serves_the_query_in_autocommit_and_sqlite_in_the_app_s_transactions(served):
    client, _headers, engine, query_engine = served
    if engine.dialect.name == "sqlite":
        assert query_engine is None
    else:
        # On the app's own event loop, where its connections live.
        assert client.portal.call(_driver_autocommit, query_engine) is True


def test_a_query_reads_and_logs_in_two_statements_and_its_record_is_committed(served, monkeypatch):
    client, headers, engine, query_engine = served
    _query(client, headers, [ENTERPRISE_DATA])  # the catalog's rows and the log's health are cached after this
    statements = _statements(query_engine or engine, monkeypatch)
    through_sqlalchemy = _through_sqlalchemy(query_engine or engine)
    answer = _query(client, headers, [ENTERPRISE_DATA])
    assert [r["result"] for r in answer["results"]] == ["granted"]
    assert answer["results"][0]["records"][0]["name"] == "福州示例餐饮有限公司"
    # SQLite: each of the two transactions opens with the app's BEGIN IMMEDIATE.
    assert statements == (["SELECT", "INSERT"] if query_engine is not None else
                          ["BEGIN", "SELECT", "BEGIN", "INSERT"])
    # On PostgreSQL both run on psycopg's connection itself, past SQLAlchemy's execution layer.
    assert through_sqlalchemy == ([] if query_engine is not None else statements)
    [entry] = _logged(engine, answer["request_hash"])
    assert entry["result"] == "granted" and entry["fields"] == ["name", "registration_status"]


def test_every_record_of_a_query_goes_in_one_insert(served, monkeypatch):
    client, headers, engine, query_engine = served
    statements = _statements(query_engine or engine, monkeypatch)
    answer = _query(client, headers, [ENTERPRISE_DATA, CRIMINAL_RECORD])
    assert [r["result"] for r in answer["results"]] == ["granted", "refused"]
    assert statements.count("INSERT") == 1
    logged = _logged(engine, answer["request_hash"])
    assert sorted((e["data_items"][0], e["result"]) for e in logged) == sorted([
        (CRIMINAL_RECORD, "denied"), (ENTERPRISE_DATA, "granted")])


def test_the_rate_limit_answers_429_before_any_work(committed_world, tmp_path, monkeypatch):
    engine, query_engine, credentials = committed_world
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test",
                        rate_limit_per_minute=1)
    app = create_app(settings, engine=engine, query_engine=query_engine, cache=InProcessCache())
    with TestClient(app) as client:
        token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                            auth=credentials).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Operator-Id": "clerk-07"}
        body = {"subject": {"code": COMPANY, "type": "001"}, "items": [ENTERPRISE_DATA], "matter": RESTAURANT,
                "purpose": "开餐馆一件事：核验企业登记状态", "case_number": "ZC-2026-12"}
        statements = _statements(query_engine or engine, monkeypatch)
        client.post("/api/v1/exchange/query", headers=headers, json=body)  # the minute's one request
        del statements[:]
        refused = client.post("/api/v1/exchange/query", headers=headers, json=body)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert statements == []  # refused before reading or logging anything


def test_on_postgresql_only_the_provider_s_call_leaves_the_event_loop(served, monkeypatch):
    client, headers, engine, query_engine = served
    from exchange.query import service

    ran_in: list[str] = []
    fetch = service.fetch_from_providers

    def noting_the_thread(ctx, answers):
        ran_in.append(threading.current_thread().name)
        return fetch(ctx, answers)

    monkeypatch.setattr(service, "fetch_from_providers", noting_the_thread)
    decided_in: list[str] = []
    monkeypatch.setattr(service, "decide", _noting(service.decide, decided_in))
    answer = _query(client, headers, [ENTERPRISE_DATA])
    assert [r["result"] for r in answer["results"]] == ["granted"]
    if query_engine is None:  # SQLite: the whole query in one worker thread
        assert ran_in == decided_in and ran_in[0] != "MainThread"
    else:  # the decision on the loop's thread, the provider's call in a thread of the hub's own pool
        assert ran_in[0].startswith("certhub-provider") and not decided_in[0].startswith("certhub-provider")
        assert decided_in[0] != ran_in[0]


def _noting(function, names: list[str]):
    def noted(*args, **kwargs):
        names.append(threading.current_thread().name)
        return function(*args, **kwargs)

    return noted


def test_the_query_s_records_keep_its_request_id_on_the_event_loop_too(served):
    # On PostgreSQL the records are written on the event loop, through SQLAlchemy's
    # greenlet bridge: the request's id must still reach them.
    client, headers, engine, _query_engine = served
    response = client.post("/api/v1/exchange/query", headers={**headers, "X-Request-Id": "dept-sys-77"}, json={
        "subject": {"code": COMPANY, "type": "001"}, "items": [ENTERPRISE_DATA, CRIMINAL_RECORD],
        "matter": RESTAURANT, "purpose": "开餐馆一件事：核验企业登记状态", "case_number": "ZC-2026-12"})
    assert response.status_code == 200 and response.headers["X-Request-Id"] == "dept-sys-77"
    with engine.connect() as connection:
        kept = connection.execute(select(LogEntry.kind).where(LogEntry.request_id == "dept-sys-77")).scalars().all()
    assert kept == ["department_query", "department_query"]
