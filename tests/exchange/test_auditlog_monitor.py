"""`certhub audit monitor` following a real `certhub serve` process over HTTP,
the server time-stamping its checkpoints at a real TSA (tests/tsa.py), and a
history rewritten in the server's database detected and alerted: exit
status, a log line, and a webhook POST to a receiver on loopback.
Also `certhub audit verify --tsa-ca` against the same server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, update

from catalog.access import UseRecord
from certhub.db import create_db_engine, upgrade
from exchange.auditlog import insert_pending
from exchange.auditlog.models import LogTile
from signing.transparency.note import NoteSigner
from tests.adapters import loopback
from tests.environment import DATABASE_BACKENDS, REPO_ROOT, drop_schema, server_database
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import DEPT, HOLDER
from tests.processes import stop_process
from tests.tsa import LoopbackTsa

pytestmark = pytest.mark.slow  # a server process and CLI processes

CERTHUB = [sys.executable, "-c", "from certhub.cli import main; main()"]
# Short, so the fail-closed test need not wait long; far above a loaded machine's TSA round trip.
TOLERANCE_SECONDS = 20


def _environment(**assigned: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("CERTHUB_", "PROMETHEUS_", "OTEL_"))}
    return {**kept, "PYTHONPATH": str(REPO_ROOT), **assigned}


@dataclass
class Served:
    url: str
    key: str
    engine: Engine
    tsa: LoopbackTsa
    process: subprocess.Popen
    log: Path


def _wait_for(what: str, condition, *, process: subprocess.Popen, log: Path, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert process.poll() is None, f"the server exited: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what} did not happen within {within} s"
        time.sleep(0.2)


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None


def _size(url: str) -> int:
    answer = _get(url + "checkpoint")
    return int(answer.text.split("\n")[1]) if answer is not None and answer.status_code == 200 else -1


def _stamped_size(url: str) -> int:
    answer = _get(url + "timestamp")
    if answer is None or answer.status_code != 200:
        return -1
    return int(answer.json()["checkpoint"].split("\n")[1])


@pytest.fixture(params=DATABASE_BACKENDS)
def served(request, tmp_path) -> Iterator[Served]:
    database_url, schema = server_database(request.param, tmp_path, prefix="certhub_monitor")
    # As a command-line job: on SQLite its transactions wait for the server's writer instead of failing.
    engine = create_db_engine(database_url, run_jobs=True)
    upgrade(engine)
    port = loopback.free_port()
    log = tmp_path / "server.log"
    with LoopbackTsa() as tsa:
        env = _environment(CERTHUB_SECRET_KEY=TEST_SECRET, CERTHUB_REGISTRY_ID="https://registry.test",
                           CERTHUB_DATABASE_URL=database_url, CERTHUB_DATA_DIR=str(tmp_path), CERTHUB_REDIS_URL="",
                           CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS="1", CERTHUB_AUDITLOG_TSA_URL=tsa.url,
                           CERTHUB_AUDITLOG_TSA_TOLERANCE_SECONDS=str(TOLERANCE_SECONDS))
        with open(log, "wb") as out:
            process = subprocess.Popen([*CERTHUB, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                                       cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/log/"
        try:
            _wait_for("a time-stamped checkpoint", lambda: _stamped_size(url) >= 0, process=process, log=log)
            key = httpx.get(url + "verifier-key", timeout=5).text.strip()
            yield Served(url=url, key=key, engine=engine, tsa=tsa, process=process, log=log)
        finally:
            stop_process(process)
            engine.dispose()
            if schema is not None:
                drop_schema(schema)


def _append(served: Served, count: int) -> None:
    records = [UseRecord(kind="department_query", department_code=DEPT, operator_id="clerk-7",
                         basis="unconditional_sharing", subject_code=HOLDER, fields=("姓名",),
                         matter_code="350100-0001", purpose=f"办理营业执照变更 {n}") for n in range(count)]
    with served.engine.begin() as connection:
        from sqlalchemy.orm import Session

        with Session(bind=connection) as session:
            insert_pending(session=session, records=records, now=datetime.now(UTC))
            session.flush()


def _grown_and_stamped(served: Served, size: int) -> None:
    _wait_for(f"a time-stamped checkpoint of size {size}",
              lambda: _size(served.url) >= size and _stamped_size(served.url) >= size,
              process=served.process, log=served.log)


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CERTHUB, "audit", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env=_environment(CERTHUB_DATA_DIR=str(tmp_path)))


def _ca_file(served: Served, tmp_path: Path) -> str:
    path = tmp_path / "tsa-ca.der"
    path.write_bytes(served.tsa.ca_certificate)
    return str(path)


def test_verify_requires_and_checks_the_log_time_stamp(served, tmp_path):
    _append(served, 5)
    _grown_and_stamped(served, 5)
    verified = _run("verify", "--url", served.url, "--key", served.key, "--tsa-ca", _ca_file(served, tmp_path),
                    tmp_path=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "time-stamped: size" in verified.stdout and "consistent with this checkpoint" in verified.stdout

    with LoopbackTsa() as stranger:
        other_ca = tmp_path / "other-ca.der"
        other_ca.write_bytes(stranger.ca_certificate)
    refused = _run("verify", "--url", served.url, "--key", served.key, "--tsa-ca", str(other_ca), tmp_path=tmp_path)
    assert refused.returncode == 1 and "timestamp_untrusted" in refused.stderr


def test_the_monitor_follows_the_log_and_alerts_on_a_rewritten_history(served, tmp_path):
    receiver = loopback.start()
    receiver.routes["/alerts"] = lambda handler: handler.reply(204, b"")
    state = tmp_path / "monitor.json"
    common = ("--url", served.url, "--key", served.key, "--state", str(state), "--tsa-ca", _ca_file(served, tmp_path),
              "--webhook", receiver.base_url + "/alerts")
    try:
        _append(served, 3)
        _grown_and_stamped(served, 3)
        first = _run("monitor", *common, "--once", tmp_path=tmp_path)
        assert first.returncode == 0, first.stderr
        first_size = int(json.loads(state.read_text())["checkpoint"].split("\n")[1])
        assert first_size >= 3 and json.loads(state.read_text())["timestamp_gen_time"]

        # The log grows: the next round checks the new checkpoint against the saved one.
        _append(served, 300)
        _grown_and_stamped(served, first_size + 300)
        second = _run("monitor", *common, "--once", tmp_path=tmp_path)
        assert second.returncode == 0, second.stderr
        assert f"consistent with size {first_size}" in second.stderr
        good_state = state.read_text()
        assert int(json.loads(good_state)["checkpoint"].split("\n")[1]) >= first_size + 300
        assert receiver.requests_to("/alerts") == []

        # History rewritten in the server's database: the first leaf hash of the log changed.
        with served.engine.begin() as connection:
            tile = connection.execute(select(LogTile.data).where(LogTile.level == 0, LogTile.tile_index == 0)).scalar()
            forged = bytes([tile[0] ^ 1]) + bytes(tile[1:])
            connection.execute(update(LogTile).where(LogTile.level == 0, LogTile.tile_index == 0).values(data=forged))
        alerted = _run("monitor", *common, "--once", tmp_path=tmp_path)
        assert alerted.returncode == 1, alerted.stderr
        assert "ALERT" in alerted.stderr
        assert state.read_text() == good_state  # the state stays at the last good checkpoint
        posts = receiver.requests_to("/alerts")
        assert len(posts) == 1 and posts[0].method == "POST"
        alert = json.loads(posts[0].body)
        assert alert["event"] == "log_monitor_alert" and alert["log"] == served.url
        assert alert["code"] in ("tile_mismatch", "root_mismatch", "inconsistent_history")
        assert alert["code"] in alerted.stderr

        # Run continuously with --keep-going, it goes on alerting each round instead of exiting.
        follower = subprocess.Popen([*CERTHUB, "audit", "monitor", *common, "--interval", "1", "--keep-going"],
                                    cwd=REPO_ROOT, env=_environment(CERTHUB_DATA_DIR=str(tmp_path)),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 90
            while len(receiver.requests_to("/alerts")) < 3:
                assert follower.poll() is None, "the monitor exited although told to keep going"
                assert time.monotonic() < deadline, "the monitor did not keep alerting"
                time.sleep(0.2)
        finally:
            stop_process(follower)
    finally:
        loopback.stop(receiver)


def test_the_server_fails_closed_past_the_tolerance_and_serves_again_once_the_tsa_is_back(served):
    _append(served, 2)
    _grown_and_stamped(served, 2)
    health = httpx.get(served.url + "health", timeout=5)
    assert health.status_code == 200 and health.json()["timestamps"]["tolerance_seconds"] == TOLERANCE_SECONDS

    served.tsa.stop()
    size = _size(served.url)
    _append(served, 2)
    _wait_for("a checkpoint published while the TSA is down", lambda: _size(served.url) >= size + 2,
              process=served.process, log=served.log)
    assert _stamped_size(served.url) < size + 2

    def refused() -> bool:
        answer = _get(served.url + "health")
        return answer is not None and answer.status_code == 503

    _wait_for("the tolerance running out", refused, process=served.process, log=served.log)
    body = httpx.get(served.url + "health", timeout=5).json()
    assert body["serving"] is False and "no outside time-stamp since" in body["reason"]
    assert body["timestamps"]["failure"]["code"] == "timestamp_unavailable"
    assert body["publication_failure"] is None  # checkpoints themselves went on

    served.tsa.start()
    _wait_for("time-stamps resuming", lambda: _stamped_size(served.url) >= size + 2 and not refused(),
              process=served.process, log=served.log)
    assert httpx.get(served.url + "health", timeout=5).json()["timestamps"]["untimestamped_since"] is None


def test_monitor_usage_errors_exit_2(tmp_path):
    key = NoteSigner.generate("certhub.example/auditlog").verifier.to_key_string()
    state = str(tmp_path / "state.json")
    for extra, says in ((["--webhook", "ftp://alerts.example/"], "--webhook"),
                        (["--tsa-max-age", "60"], "--tsa-max-age goes with --tsa-ca"),
                        (["--tsa-ca", str(tmp_path / "absent.pem")], "--tsa-ca")):
        answer = _run("monitor", "--url", "http://127.0.0.1:9/log/", "--key", key, "--state", state, "--once", *extra,
                      tmp_path=tmp_path)
        assert answer.returncode == 2 and says in answer.stderr, answer.stderr
    (tmp_path / "state.json").write_text("{not json")
    broken_state = _run("monitor", "--url", "http://127.0.0.1:9/log/", "--key", key, "--state", state, "--once",
                        tmp_path=tmp_path)
    assert broken_state.returncode == 2 and "--state" in broken_state.stderr
