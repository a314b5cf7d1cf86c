"""One-time use across app processes: two uvicorn servers sharing PostgreSQL
and Redis redeem the same codes at the same moment, and exactly one gets
the data each time — also when one process's cache never saw the code
(Redis lost its data), where the database's unique row decides alone."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from catalog.access import UseLog
from certhub.app import create_app
from certhub.db import create_db_engine, upgrade
from certhub.settings import Settings
from registry.presentations import present as presenting
from registry.presentations import redeem as redeeming
from registry.presentations.models import Redemption
from registry.presentations.trust import RegistryTrust
from storage.base import utcnow
from storage.cache import InProcessCache
from tests.adapters.loopback import free_port
from tests.environment import REPO_ROOT, engine_on_schema
from tests.factories.catalog import COUNTY_CENTRE, MATTER
from tests.factories.licences import KEY_SECRET, REGISTRY_ID
from tests.factories.presentations import CITIZEN, PURPOSE, build
from tests.factories.settings import TEST_SECRET
from tests.processes import stop_process

POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CERTHUB_TEST_REDIS_URL")
ROUNDS = 4

pytestmark = pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL),
    reason="several app processes need a shared database and cache: set CERTHUB_TEST_DATABASE_URL and "
           "CERTHUB_TEST_REDIS_URL",
)

_SERVE = f"""
import sys
import uvicorn
from certhub.app import create_app
from certhub.settings import Settings
from tests.environment import engine_on_schema
from tests.factories.settings import TEST_SECRET

url, schema, port, redis_url, data_dir = sys.argv[1:6]
settings = Settings(secret_key=TEST_SECRET, registry_id="{REGISTRY_ID}", redis_url=redis_url or None, data_dir=data_dir)
app = create_app(settings, engine=engine_on_schema(url, schema))
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
"""


class _Server:
    def __init__(self, script: Path, schema: str, redis_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, str(script), POSTGRES_URL, schema, str(self.port), redis_url, str(data_dir)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def shared_world(tmp_path):
    """A committed world in a schema of its own, which the servers also use."""
    schema = f"certhub_redeem_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = engine_on_schema(POSTGRES_URL, schema)
    try:
        upgrade(engine)
        settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID)
        app = create_app(settings, engine=engine, cache=InProcessCache())
        with TestClient(app) as client, sessionmaker(bind=engine, expire_on_commit=False)() as session:
            yield schema, build(client, app, session)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _race(world, code: str, urls: list[str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(urls))
    results: list = [None] * len(urls)
    body = {"qr_text": code, "operator_id": "clerk-7", "matter_code": "35010000000RESTAURANT01",
            "purpose": "开餐馆一件事：核验居住证"}

    def redeem(n: int, url: str) -> None:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            results[n] = http.post(url + "/api/v1/presentations/redeem", json=body, headers=world.counter)

    threads = [threading.Thread(target=redeem, args=(n, url)) for n, url in enumerate(urls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _exactly_one_gets_the_data(responses: list[httpx.Response]) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (len(responses) - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 200:
            assert response.json()["licences"][0]["fields"]["address"]
        else:
            assert response.json()["error"] == "replayed" and "licences" not in response.json()


def test_two_processes_redeem_each_code_once(shared_world, tmp_path):
    schema, world = shared_world
    script = tmp_path / "serve.py"
    script.write_text(_SERVE)
    redis_db = REDIS_URL
    # a and b share Redis; c has an in-process cache only: for c, it is as if Redis lost every key.
    servers = [_Server(script, schema, redis_db, tmp_path / name) for name in ("a", "b")]
    servers.append(_Server(script, schema, "", tmp_path / "c"))
    try:
        for server in servers:
            server.wait_ready()
        a, b, c = (server.url for server in servers)
        for _ in range(ROUNDS):
            _exactly_one_gets_the_data(_race(world, world.code(), [a, b]))
        for _ in range(ROUNDS):
            _exactly_one_gets_the_data(_race(world, world.code(), [a, c]))
        # Afterwards: the cache-less process is still refused by the database.
        code = world.code()
        assert _race(world, code, [a])[0].status_code == 200
        late = _race(world, code, [c])[0]
        assert late.status_code == 409 and late.json()["error"] == "replayed"
        world.session.expire_all()
        assert world.session.query(Redemption).count() == 2 * ROUNDS + 1
    finally:
        for server in servers:
            server.stop()


def _waiting_or_done(engine, backend_pid: int, worker: threading.Thread) -> str:
    """Whether the worker's database session waits on a lock, or the worker finished."""
    deadline = time.monotonic() + 30
    with engine.connect() as probe:
        while time.monotonic() < deadline:
            if not worker.is_alive():
                return "done"
            waiting = probe.execute(text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
                                    {"pid": backend_pid}).scalar()
            if waiting:
                return "waiting"
            time.sleep(0.01)
    raise AssertionError("the worker neither finished nor waited on a lock")


def _present(session, world) -> str:
    issued = presenting.present(
        session=session, actor_code=CITIZEN, actor_code_type="111", identifiers=[world.residence["identifier"]],
        disclosure="full", on_behalf_of=None, ttl_seconds=60, registry_id=REGISTRY_ID, key_secret=KEY_SECRET,
        now=utcnow(),
    )
    return issued.qr_text


def _in_thread(engine, work) -> tuple[threading.Thread, int, list]:
    """`work(session)` in a thread of its own, committed there; its session's backend pid."""
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    out: list = []

    def run() -> None:
        with session:
            out.append(work(session))
            session.commit()

    worker = threading.Thread(target=run)
    worker.start()
    return worker, pid, out


def test_two_codes_made_at_once_for_a_licence_leave_one_live(shared_world):
    _schema, world = shared_world
    engine = world.session.get_bind()
    with sessionmaker(bind=engine, expire_on_commit=False)() as first:
        first_code = _present(first, world)  # not yet committed: it holds the licence's row lock
        worker, pid, out = _in_thread(engine, lambda session: _present(session, world))
        # The second waits for the first, and then sees it (without the lock it would not).
        assert _waiting_or_done(engine, pid, worker) == "waiting"
        first.commit()
    worker.join()
    [second_code] = out
    refused = world.redeem(first_code)
    assert refused.status_code == 422 and refused.json()["error"] == "superseded", refused.text
    assert world.redeem(second_code).status_code == 200


def test_a_new_code_waits_for_the_old_ones_redemption(shared_world):
    _schema, world = shared_world
    engine = world.session.get_bind()
    app = world.app
    old = world.code(disclosure="full")
    counter = redeeming.Counter(department_code=COUNTY_CENTRE, client_id="c", operator_id="clerk-7",
                                matter_code=MATTER, purpose=PURPOSE, case_number=None, request_hash="0" * 64)
    trust = RegistryTrust(registry_id=REGISTRY_ID, key_secret=KEY_SECRET,
                          sessionmaker=sessionmaker(bind=engine, expire_on_commit=False))
    with sessionmaker(bind=engine, expire_on_commit=False)() as redeeming_session:
        redeemed = redeeming.redeem(session=redeeming_session, qr_text=old, counter=counter, trust=trust, cache=InProcessCache(),
                                    recorder=app.state.services.find(UseLog), registry_id=REGISTRY_ID, now=utcnow())
        assert redeemed.licences
        # The holder asks for a new code while the counter is mid-way: the new code is made after the
        # redemption ends, so the old code is never redeemed once its replacement was handed out.
        worker, pid, out = _in_thread(engine, lambda session: _present(session, world))
        assert _waiting_or_done(engine, pid, worker) == "waiting"
        redeeming_session.commit()
    worker.join()
    assert out and world.redeem(out[0]).status_code == 200
