"""Shared fixtures: a migrated database per backend, a rolled-back session
per test, the cache implementations, and an app client.

SQLite always; PostgreSQL and Redis too when CERTHUB_TEST_DATABASE_URL /
CERTHUB_TEST_REDIS_URL are set (CI sets them). On PostgreSQL each run gets
a schema of its own, so runs never see each other's tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from catalog import snapshots
from certhub.app import create_app
from certhub.db import create_db_engine, upgrade
from certhub.settings import Settings
from storage.cache import InProcessCache, RedisCache

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-" + "x" * 40

_POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")
_REDIS_URL = os.environ.get("CERTHUB_TEST_REDIS_URL")

DATABASE_BACKENDS = ["sqlite"] + (["postgresql"] if _POSTGRES_URL else [])
CACHE_BACKENDS = ["memory"] + (["redis"] if _REDIS_URL else [])


def _postgres_engine(schema: str) -> Engine:
    engine = create_db_engine(_POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return engine_on_schema(_POSTGRES_URL, schema)


def engine_on_schema(url: str, schema: str) -> Engine:
    """A PostgreSQL engine whose every connection works in `schema` (also
    what other processes of a test use to reach the same tables)."""
    engine = create_db_engine(url)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        # psycopg opens a transaction for SET; end it so pooled connections start clean.
        dbapi_connection.commit()

    return engine


@pytest.fixture(scope="session", params=DATABASE_BACKENDS)
def migrated_engine(request, tmp_path_factory) -> Iterator[Engine]:
    """An engine on a database whose schema was built by the migrations."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "certhub.sqlite3"
        engine = create_db_engine(f"sqlite:///{path}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"certhub_test_{os.getpid()}_{secrets.token_hex(3)}"
    engine = _postgres_engine(schema)
    upgrade(engine)
    yield engine
    engine.dispose()
    cleanup = create_db_engine(_POSTGRES_URL)
    with cleanup.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    cleanup.dispose()


@pytest.fixture
def db_connection(migrated_engine: Engine):
    """A connection inside a transaction that is rolled back after the test."""
    connection = migrated_engine.connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()
        # The rollback undid the test's catalog behind the session events' back.
        snapshots.forget(migrated_engine)


@pytest.fixture
def session_factory(db_connection) -> sessionmaker[Session]:
    """Sessions whose commits only release a savepoint of the test's transaction."""
    return sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db_session(session_factory) -> Iterator[Session]:
    session = session_factory()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(params=CACHE_BACKENDS)
def cache(request):
    if request.param == "memory":
        instance = InProcessCache()
    else:
        instance = RedisCache(_REDIS_URL, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    yield instance
    instance.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test")


@pytest.fixture
def app(settings, migrated_engine, session_factory):
    application = create_app(settings, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
