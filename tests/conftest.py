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

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from catalog import snapshots
from certhub.app import create_app
from certhub.db import create_db_engine, upgrade
from certhub.settings import Settings
from storage.cache import InProcessCache, RedisCache
from tests.api_samples import RecordResponses, recording_to
from tests.environment import CACHE_BACKENDS, DATABASE_BACKENDS, POSTGRES_URL, REDIS_URL, engine_on_new_schema
from tests.factories.settings import app_settings
from tests.redis_cluster import cluster_available, start_cluster, start_sentinel


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
    engine = engine_on_new_schema(schema)
    upgrade(engine)
    yield engine
    engine.dispose()
    cleanup = create_db_engine(POSTGRES_URL)
    with cleanup.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    cleanup.dispose()


@pytest.fixture
def empty_db_connection(migrated_engine: Engine):
    """A connection inside a transaction that is rolled back after the test,
    on the migrated schema with no data in it."""
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
def db_connection(empty_db_connection):
    """The connection a test's sessions and app work on; a package's
    conftest.py may start it from data of its own (tests/exchange/)."""
    return empty_db_connection


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
        instance = RedisCache(REDIS_URL, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory) -> Iterator[str]:
    """A 3-master Redis Cluster of this run's own (tests/redis_cluster.py), for the run's tests that need one."""
    if not cluster_available():
        pytest.skip("needs redis-server and redis-cli to start a Redis Cluster")
    with start_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_sentinel_url(tmp_path_factory) -> Iterator[str]:
    """A Redis primary behind a Sentinel of this run's own (tests/redis_cluster.py)."""
    if not cluster_available():
        pytest.skip("needs redis-server and redis-cli to start a Sentinel")
    with start_sentinel(tmp_path_factory.mktemp("redis-sentinel")) as url:
        yield url


@pytest.fixture
def settings(tmp_path) -> Settings:
    return app_settings(tmp_path)


@pytest.fixture
def app(settings, migrated_engine, session_factory):
    application = create_app(settings, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    sink = recording_to()
    if sink is not None:  # the OpenAPI contract test's sample of real answers (tests/api_samples.py)
        application.add_middleware(RecordResponses, sink=sink)
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
