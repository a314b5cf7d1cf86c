"""The cache or the database out of reach: a request answers JSON 503
(`cache_unavailable`, `database_unavailable`) with Retry-After, and its
keep-alive connection stays open, rather than a bare 500 and a dropped
connection. Real components: a Redis server of the test's own that is
killed, a PostgreSQL port where nothing listens, a PostgreSQL connection
terminated by the server, a SQLite file whose directory is gone."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator

import jwt
import pytest
import redis
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from catalog.service import document
from certhub.app import create_app
from certhub.db import create_db_engine, create_sessionmaker
from identity import clients
from identity.client_assertions import ASSERTION_TYPE
from storage.cache import InProcessCache, RedisCache
from tests.adapters.loopback import free_port
from tests.factories import presentations
from tests.factories.catalog import CITY_SAMR, catalog_mapping

pytestmark = pytest.mark.slow  # waits out unreachable databases and caches

POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")
REDIS_SERVER = shutil.which("redis-server")


class _Server:
    """The app under uvicorn on loopback, without its lifespan (whose
    background listeners are not what these tests are about)."""

    def __init__(self, app) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def serve() -> Iterator:
    servers = []

    def start(app) -> http.client.HTTPConnection:
        servers.append(_Server(app))
        return http.client.HTTPConnection("127.0.0.1", servers[-1].port, timeout=30)

    yield start
    for server in servers:
        server.stop()


def _request(connection: http.client.HTTPConnection, method: str, path: str, **kwargs):
    connection.request(method, path, **kwargs)
    response = connection.getresponse()
    return response, response.read()


def _unavailable(connection: http.client.HTTPConnection, method: str, path: str, code: str, **kwargs) -> None:
    response, body = _request(connection, method, path, **kwargs)
    assert response.status == 503, body
    assert json.loads(body) == {"error": code, "message": json.loads(body)["message"]}
    assert int(response.getheader("Retry-After")) > 0
    assert not response.will_close
    sock = connection.sock
    healthy, _ = _request(connection, "GET", "/healthz")  # the same connection serves the next request
    assert healthy.status == 200 and connection.sock is sock


# --- the cache --------------------------------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[tuple[subprocess.Popen, str]]:
    if REDIS_SERVER is None:
        pytest.fail("redis-server not found: install Debian's redis-server; these tests start one of their own")
    port = free_port()
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            probe.ping()
            break
        except redis.exceptions.ConnectionError:
            assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    probe.close()
    yield process, url
    process.kill()
    process.wait(timeout=10)


def _pem(private_key) -> str:
    return private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def _assertion_body(client_id: str, key) -> str:
    """A private_key_jwt token request: its assertion's jti is kept in the cache against replay."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": "https://registry.test/api/v1/oauth/token",
              "iat": now, "exp": now + 120, "jti": secrets.token_urlsafe(16)}
    assertion = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "es-1"})
    return (f"grant_type=client_credentials&client_assertion_type={ASSERTION_TYPE}"
            f"&client_assertion={assertion}")


def test_a_cache_that_went_away_answers_503_and_keeps_the_connection(
    redis_server, serve, settings, migrated_engine, session_factory, db_session
):
    process, url = redis_server
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="signing system",
                         scopes=["exchange:query"], auth_method="private_key_jwt")
    key = ec.generate_private_key(ec.SECP256R1())
    clients.add_key(session=db_session, client_id=new.client_id, public_key=_pem(key), kid="es-1")
    db_session.commit()
    cache = RedisCache(url, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    app = create_app(settings, engine=migrated_engine, cache=cache, sessions=session_factory)
    connection = serve(app)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        answer, body = _request(connection, "POST", "/api/v1/oauth/token", body=_assertion_body(new.client_id, key),
                                headers=form)
        assert answer.status == 200, body
        process.kill()
        process.wait(timeout=10)
        _unavailable(connection, "POST", "/api/v1/oauth/token", "cache_unavailable",
                     body=_assertion_body(new.client_id, key), headers=form)
    finally:
        connection.close()
        cache.close()


def test_a_cache_that_stopped_answering_is_unavailable_too(redis_server, serve, settings, migrated_engine,
                                                           session_factory):
    # A Redis that stops answering fails the call with redis's TimeoutError
    # after the client's socket timeout (seconds): raised here by a route of
    # the test's own, on the app built with a Redis cache.
    _process, url = redis_server
    cache = RedisCache(url, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    app = create_app(settings, engine=migrated_engine, cache=cache)

    @app.get("/test/slow-cache")
    def slow_cache() -> dict:
        raise redis.exceptions.TimeoutError("Timeout reading from socket")

    connection = serve(app)
    try:
        _unavailable(connection, "GET", "/test/slow-cache", "cache_unavailable")
    finally:
        connection.close()
        cache.close()


# --- the database -----------------------------------------------------------------------------------


def _unreachable_engines(tmp_path) -> list:
    gone = tmp_path / "unmounted"
    engines = [create_db_engine(f"sqlite:///{gone / 'certhub.sqlite3'}")]  # its directory is not there
    # PostgreSQL at a port where nothing listens (a server down or restarting).
    engines.append(create_db_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/certhub"))
    return engines


def test_a_database_out_of_reach_answers_503_and_keeps_the_connection(serve, settings, migrated_engine, tmp_path):
    for engine in _unreachable_engines(tmp_path):
        app = create_app(settings, engine=migrated_engine, cache=InProcessCache(),
                         sessions=create_sessionmaker(engine))
        connection = serve(app)
        try:
            _unavailable(connection, "GET", "/api/v1/catalog/departments", "database_unavailable")
        finally:
            connection.close()
            engine.dispose()


# Only a database server can terminate a backend: the PostgreSQL engine alone.
@pytest.mark.skipif(POSTGRES_URL is None, reason="needs CERTHUB_TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize("migrated_engine", ["postgresql"], indirect=True)
def test_a_connection_the_server_terminated_answers_503_then_the_pool_recovers(serve, settings, migrated_engine):
    with migrated_engine.connect() as probe:
        schema = probe.execute(text("SHOW search_path")).scalar().strip('"')
    # A plain pool without the app's idle ping, so the dead connection is handed out as it is.
    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1,
                           max_overflow=0)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{schema}"')
        dbapi_connection.commit()

    app = create_app(settings, engine=migrated_engine, cache=InProcessCache(), sessions=create_sessionmaker(engine))
    connection = serve(app)
    try:
        with engine.connect() as pooled:
            pid = pooled.execute(text("SELECT pg_backend_pid()")).scalar()
        with migrated_engine.connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            admin.commit()
        _unavailable(connection, "GET", "/api/v1/catalog/departments", "database_unavailable")
        again, body = _request(connection, "GET", "/api/v1/catalog/departments")
        assert again.status == 200, body
    finally:
        connection.close()
        engine.dispose()


def test_a_redemption_with_the_cache_gone_answers_503_with_retry_after(redis_server, settings, migrated_engine,
                                                                       session_factory, db_session):
    process, url = redis_server
    cache = RedisCache(url, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    app = create_app(settings, engine=migrated_engine, cache=cache, sessions=session_factory)
    client = TestClient(app)  # without the lifespan: its cache listener is not what this test is about
    try:
        world = presentations.build(client, app, db_session)
        code = world.code()
        process.kill()
        process.wait(timeout=10)
        refused = world.redeem(code)
        assert refused.status_code == 503, refused.text
        # The counter's rate limit is counted in the cache first and fails closed.
        assert refused.json()["error"] in {"rate_limit_unavailable", "cache_unavailable"}
        assert int(refused.headers["Retry-After"]) > 0
    finally:
        client.close()
        cache.close()
