"""/readyz fails while PostgreSQL is down and recovers when it is back.

The machine's PostgreSQL is never stopped: the test starts a private,
throwaway cluster of its own (initdb and pg_ctl of the installed server, in
a temporary directory, on a free loopback port, as the ``postgres`` user
when run as root, since initdb refuses root), serves an app on it, stops
the cluster, sees 503, starts it again, sees 200.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from certhub.app import create_app
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from exchange.auditlog import log_origin, publish_checkpoint
from tests.adapters.loopback import free_port
from tests.factories.settings import app_settings

pytestmark = pytest.mark.slow  # a PostgreSQL cluster of its own, started twice

# The installed server's programs (Debian: /usr/lib/postgresql/<major>/bin; .ci/run's machine has them).
BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
BIN = Path(BIN_DIRS[0]) if BIN_DIRS else None
AS_ROOT = os.geteuid() == 0


@dataclass
class Cluster:
    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(BIN / args[0]), *args[1:]]
        if AS_ROOT:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{args[0]}: {done.stderr or done.stdout}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-l", str(self.directory / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if BIN is None or not (BIN / "initdb").exists():
        pytest.fail("no PostgreSQL server programs (initdb, pg_ctl) installed: apt-get install postgresql",
                    pytrace=False)
    # Not under pytest's own temporary directory: the postgres user cannot enter root's.
    directory = Path(tempfile.mkdtemp(prefix="certhub-readyz-pg-"))
    if AS_ROOT:
        shutil.chown(directory, "postgres", "postgres")
    own = Cluster(directory=directory, port=free_port())
    own._run("initdb", "-D", str(directory / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
    own.start()
    try:
        yield own
    finally:
        try:
            own.stop()
        except subprocess.CalledProcessError:
            pass  # stopped already
        shutil.rmtree(directory, ignore_errors=True)


def _readiness(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def _until(client, status: int, *, seconds: float = 30.0) -> tuple[int, dict]:
    """/readyz until it answers ``status`` (a pooled connection the restart
    closed is found dead and replaced on the way), or the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = _readiness(client)
        if answer[0] == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_readyz_fails_while_postgresql_is_down_and_recovers(cluster, tmp_path):
    engine = create_db_engine(cluster.url)
    upgrade(engine)
    settings = app_settings(tmp_path).model_copy(update={"database_url": cluster.url})
    with create_sessionmaker(engine)() as session:  # the log serves: a checkpoint was just published
        publish_checkpoint(session=session, key_secret=settings.secret_bytes(), origin=log_origin(settings.registry_id))
        session.commit()
    engine.dispose()

    app = create_app(settings)  # its own engine and query engine on the cluster, as `certhub serve` builds them
    with TestClient(app) as client:
        status, body = _readiness(client)
        assert status == 200, body
        assert body["checks"]["database"]["ok"] and body["checks"]["log"]["ok"]

        cluster.stop()
        status, body = _readiness(client)
        assert status == 503, body
        assert body["status"] == "not_ready" and not body["checks"]["database"]["ok"]
        assert client.get("/healthz").status_code == 200  # liveness does not touch the database

        cluster.start()
        status, body = _until(client, 200)
        assert status == 200, body
        assert body["checks"]["database"]["ok"]
    app.state.services.find(Engine).dispose()  # the root disposes of the query engine only
