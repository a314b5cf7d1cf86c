"""Identical certhub processes on one PostgreSQL, as behind a load balancer:
three `certhub serve` nodes run their background jobs at once. The webhook
outbox is drained by all of them (SELECT ... FOR UPDATE SKIP LOCKED,
adapters.webhooks.service._lock_due) into a loopback receiver, each event
delivered exactly once; their checkpointers take turns on the log's state
row lock (exchange.auditlog.integration.lock_state), so every checkpoint
any of them signed is a prefix of one log and one key signed them all.

PostgreSQL's: SQLite serves one process (skipped without CERTHUB_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.models import WebhookDelivery
from adapters.webhooks import enqueue
from catalog.access import UseRecord
from certhub.db import create_db_engine, upgrade
from exchange.auditlog import insert_pending
from exchange.auditlog.models import LogCheckpoint, LogEntry, LogSigningKey
from exchange.subscriptions.models import Subscription
from exchange.subscriptions.service import subscriber_key
from signing.transparency import leaf_hash, root_from_leaf_hashes
from storage.base import utcnow
from tests.adapters import loopback
from tests.environment import POSTGRES_URL, REPO_ROOT, drop_schema, server_database
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import REGISTRY_ID, build_world
from tests.factories.settings import TEST_SECRET
from tests.processes import stop_process

pytestmark = [
    pytest.mark.slow,  # three server processes
    pytest.mark.skipif(POSTGRES_URL is None, reason="several nodes share a PostgreSQL: set CERTHUB_TEST_DATABASE_URL"),
]

NODES = 3
# More than one node's round takes (deliver_due's limit is 100), each answered
# slowly enough that a round lasts seconds: the nodes' rounds overlap.
EVENTS = 240
RECEIVER_DELAY_S = 0.05
CERTHUB = ["-c", "from certhub.cli import main; main()"]


class _Receiver:
    """Counts each event id it is sent and the most requests it served at once."""

    def __init__(self) -> None:
        self.events: Counter[str] = Counter()
        self.in_flight = self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, handler) -> None:
        with self._lock:
            self.events[handler.headers["X-Certhub-Event-Id"]] += 1
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
        time.sleep(RECEIVER_DELAY_S)
        with self._lock:
            self.in_flight -= 1
        handler.reply(200, b"")


def _node(url: str, data_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = loopback.free_port()
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("CERTHUB_", "PROMETHEUS_", "OTEL_"))}
    env = {**kept, "PYTHONPATH": str(REPO_ROOT), "CERTHUB_SECRET_KEY": TEST_SECRET, "CERTHUB_REGISTRY_ID": REGISTRY_ID,
           "CERTHUB_DATABASE_URL": url, "CERTHUB_DATA_DIR": str(data_dir), "CERTHUB_REDIS_URL": "",
           "CERTHUB_WEBHOOKS_ALLOW_LOOPBACK": "true", "CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS": "0.5"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, *CERTHUB, "serve", "--port", str(port), "--no-access-log"],
                                   cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def _wait_until_serving(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"{base_url} did not start within 180 s"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)


def _use(n: int) -> UseRecord:
    return UseRecord(kind="department_query", department_code=CITY_SAMR, operator_id="clerk-7",
                     basis="holder_presentation", subject_code="350102199001011234", licence_ids=["L-1"],
                     fields=["姓名"], matter_code="M-1", purpose="核验", case_number=f"C-{n}", request_hash="ab" * 32)


def test_three_nodes_drain_one_outbox_once_and_take_turns_publishing(tmp_path):
    url, schema = server_database("postgresql", tmp_path, prefix="certhub_nodes")
    assert schema is not None
    engine = create_db_engine(url)
    receiver = loopback.start()
    events = _Receiver()
    receiver.routes["/hooks"] = events
    nodes: list[tuple[subprocess.Popen, str, Path]] = []
    try:
        upgrade(engine)
        with Session(engine) as session:
            build_world(session)
            subscription = Subscription(department_code=CITY_SAMR, client_id="city-client",
                                        callback_url=receiver.base_url + "/hooks", event_kinds=["issued"],
                                        licence_type_codes=["any"], secret_salt="00" * 16)
            session.add(subscription)
            session.commit()
            subscriber = subscriber_key(subscription.id)
        for n in range(NODES):
            log = tmp_path / f"node-{n}.log"
            process, base_url = _node(url, tmp_path / f"node-{n}", log)
            nodes.append((process, base_url, log))
        for process, base_url, log in nodes:
            _wait_until_serving(process, base_url, log)

        # 1. The outbox fills at once, while every node's worker is running.
        with Session(engine) as session:
            now = utcnow()
            for n in range(EVENTS):
                enqueue(session=session, event_id=f"evt-{n}", subscriber_key=subscriber,
                        url=receiver.base_url + "/hooks", payload={"id": f"evt-{n}", "n": n}, now=now)
            session.commit()
        # 2. Uses are recorded meanwhile; the nodes' checkpointers sequence them.
        for batch in range(10):
            with Session(engine) as session:
                insert_pending(session=session, records=[_use(batch * 10 + n) for n in range(10)], now=utcnow())
                session.commit()
            time.sleep(0.3)
        deadline = time.monotonic() + 180
        with Session(engine) as session:
            while True:
                delivered = session.scalar(select(func.count()).where(WebhookDelivery.status == "delivered"))
                sequenced = session.scalar(select(func.max(LogCheckpoint.size)))
                if delivered == EVENTS and sequenced == 100:
                    break
                assert time.monotonic() < deadline, f"{delivered} of {EVENTS} delivered, log at {sequenced}"
                session.rollback()
                time.sleep(0.5)
    finally:
        for process, _url, _log in nodes:
            stop_process(process)
        loopback.stop(receiver)

    try:
        # Each event reached the receiver once, from nodes that sent at the same time.
        assert sorted(events.events) == sorted(f"evt-{n}" for n in range(EVENTS))
        assert set(events.events.values()) == {1}
        assert events.most_at_once >= 2  # one node sends one at a time: several nodes drained the outbox
        with Session(engine) as session:
            assert set(session.scalars(select(WebhookDelivery.attempts))) == {1}
            # Every checkpoint, whichever node signed it, is a prefix of the one log, under one key.
            leaves = [leaf_hash(entry) for entry in
                      session.scalars(select(LogEntry.entry).order_by(LogEntry.leaf_index))]
            assert session.scalars(select(LogEntry.leaf_index).order_by(LogEntry.leaf_index)).all() == \
                list(range(100))
            checkpoints = session.execute(
                select(LogCheckpoint.size, LogCheckpoint.root_hash).order_by(LogCheckpoint.id)).all()
            assert len(checkpoints) > NODES
            sizes = [size for size, _root in checkpoints]
            assert sizes == sorted(sizes)
            for size, root in checkpoints:
                assert bytes(root) == root_from_leaf_hashes(leaves[:size])
            assert session.scalar(select(func.count()).select_from(LogSigningKey)) == 1
        for _process, _url, log in nodes:  # no round failed on a node, neither waiting nor clashing
            text = log.read_text(errors="replace")
            assert "checkpoint publication failed" not in text and "webhook round failed" not in text, text[-2000:]
    finally:
        engine.dispose()
        drop_schema(schema)
