"""Fail-closed checkpointing through the HTTP app: configurable period, the
public ``GET /log/health`` signal, and data routes refused with the reason."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, delete, func, select, update

from catalog.access import UseLog, UseRecord
from certhub.app import create_app
from certhub.db import create_sessionmaker
from certhub.settings import Settings
from exchange.auditlog import LogEntry, publish_checkpoint, publish_round, run_checkpointer
from exchange.auditlog.checkpoints import RoundBounds
from exchange.auditlog.config import LogConfig
from exchange.auditlog.health import PublicationMonitor
from exchange.auditlog.models import LogCheckpoint, LogSigningKey, LogState, LogTile
from signing.transparency import EMPTY_ROOT
from storage.cache import InProcessCache
from storage.sessions import SessionDep
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import DEPT, HOLDER, ORIGIN, SECRET, newest_entry, use
from wiring import service

DATA_ROUTE = "/test-only/licence-data"


def _add_data_route(app: FastAPI) -> None:
    """A data-serving route as registry and exchange routes are built: it
    records the use through the app's recorder before returning data."""

    @app.get(DATA_ROUTE)
    def licence_data(session: SessionDep, recorder: Annotated[UseLog, service(UseLog)]) -> dict:
        recorder.append(session=session, records=[UseRecord(
            kind="department_query", department_code=DEPT, operator_id="clerk-7",
            basis="unconditional_sharing", subject_code=HOLDER, fields=["姓名"], matter_code="350100-0001",
            purpose="办理营业执照变更",
        )])
        return {"姓名": "林某"}


@pytest.fixture
def data_client(app):
    _add_data_route(app)
    with TestClient(app) as client:
        yield client


def _entries(session) -> int:
    return session.scalar(select(func.count()).select_from(LogEntry))


def test_settings_default_and_validate_the_periods(tmp_path, monkeypatch):
    defaults = Settings(secret_key=TEST_SECRET, data_dir=tmp_path)
    assert (defaults.auditlog_max_lag_seconds, defaults.auditlog_checkpoint_interval_seconds) == (300, 10)
    monkeypatch.setenv("CERTHUB_AUDITLOG_MAX_LAG_SECONDS", "60")
    monkeypatch.setenv("CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS", "2.5")
    configured = Settings(secret_key=TEST_SECRET, data_dir=tmp_path)
    assert (configured.auditlog_max_lag_seconds, configured.auditlog_checkpoint_interval_seconds) == (60, 2.5)
    app = create_app(configured, engine=None, cache=InProcessCache())
    log = app.state.services.find(LogConfig)
    assert log.max_lag == timedelta(seconds=60)
    assert app.state.services.find(UseLog).max_lag == timedelta(seconds=60)
    assert log.checkpoint_interval_s == 2.5
    app.state.services.find(Engine).dispose()
    monkeypatch.setenv("CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS", "60")
    with pytest.raises(ValidationError, match="must be below"):
        Settings(secret_key=TEST_SECRET, data_dir=tmp_path)
    for name, value in (("CERTHUB_AUDITLOG_MAX_LAG_SECONDS", "0"), ("CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS", "-1")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError):
            Settings(secret_key=TEST_SECRET, data_dir=tmp_path)


def test_health_before_any_checkpoint(client, db_session):
    use(db_session, result="denied", reason_code="no_consent", fields=[])
    db_session.commit()
    response = client.get("/log/health")
    assert response.status_code == 503 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["serving"] is False and "no checkpoint yet" in body["reason"]
    assert body["pending_entries"] == 1 and body["checkpoint_size"] is None and body["max_lag_seconds"] == 300


def test_health_while_serving_reports_age_size_and_pending(client, db_session):
    for _ in range(3):
        use(db_session)
    publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)
    use(db_session)
    use(db_session)
    db_session.commit()
    body = client.get("/log/health").json()
    assert body["serving"] is True and body["status"] == "ok" and body["reason"] is None
    assert body["checkpoint_size"] == 3 and 0 <= body["checkpoint_age_seconds"] < 60
    assert body["pending_entries"] == 2 and body["publication_failure"] is None
    # Nothing personal in the public signal.
    assert HOLDER not in client.get("/log/health").text


@pytest.mark.slow
def test_stale_checkpoint_stops_a_data_route_with_the_reason(data_client, db_session):
    stale = datetime.now(UTC) - timedelta(minutes=10)
    publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN, now=stale)
    db_session.commit()
    before = _entries(db_session)
    response = data_client.get(DATA_ROUTE)
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "log_unavailable"
    assert re.search(r"last checkpoint is 6\d\d s old \(limit 300 s\); data is not served", body["message"])
    assert "林某" not in response.text
    assert _entries(db_session) == before  # no record, no data
    assert data_client.get("/log/health").json()["serving"] is False

    publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)  # checkpoints resume
    db_session.commit()
    response = data_client.get(DATA_ROUTE)
    assert response.status_code == 200 and response.json() == {"姓名": "林某"}
    assert _entries(db_session) == before + 1


@pytest.mark.slow
def test_refusal_quotes_why_checkpoints_fail(app, data_client, db_session, session_factory):
    stale = datetime.now(UTC) - timedelta(minutes=10)
    publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN, now=stale)
    db_session.commit()
    monitor = app.state.services.find(PublicationMonitor)
    # The deployment secret changed: the stored log key no longer decrypts.
    wrong_secret = b"another-secret-" + b"y" * 40
    assert publish_round(session_factory, wrong_secret, origin=ORIGIN, monitor=monitor) is False
    assert publish_round(session_factory, wrong_secret, origin=ORIGIN, monitor=monitor) is False
    message = data_client.get(DATA_ROUTE).json()["message"]
    assert "has failed 2 time(s)" in message and "(checkpoint_signing_failed)" in message
    health = data_client.get("/log/health").json()
    assert health["publication_failure"]["code"] == "checkpoint_signing_failed"
    assert health["publication_failure"]["attempts"] == 2

    assert publish_round(session_factory, SECRET, origin=ORIGIN, monitor=monitor) is True
    assert monitor.failure is None
    assert data_client.get(DATA_ROUTE).status_code == 200


def test_denied_attempts_are_still_recorded_while_stale(data_client, app, db_session):
    recorder = app.state.services.find(UseLog)
    recorder.append(session=db_session, records=[UseRecord(
        kind="department_query", department_code=DEPT, operator_id="clerk-7", basis="unconditional_sharing",
        result="denied", reason_code="log_unavailable")])
    assert newest_entry(db_session).result == "denied"


class _StopAfterOneRound(threading.Event):
    """The checkpointer's stop event, set when the loop first waits for its next round."""

    def wait(self, timeout: float | None = None) -> bool:
        self.set()
        return True


def test_each_checkpointer_round_publishes_one_checkpoint(db_session, session_factory):
    """One checkpoint per interval, which the time-stamp and the witnesses
    (when configured) are then asked about; the loop had signed and stored
    two a round, the second only to put to the witnesses."""
    before = db_session.scalar(select(func.count()).select_from(LogCheckpoint))
    run_checkpointer(session_factory, SECRET, 3600, _StopAfterOneRound(), origin=ORIGIN)
    assert db_session.scalar(select(func.count()).select_from(LogCheckpoint)) == before + 1


@pytest.mark.slow
def test_the_app_checkpointer_keeps_the_log_serving(migrated_engine, tmp_path):
    """background_jobs: the configured interval drives real publications."""
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test",
                        auditlog_max_lag_seconds=30, auditlog_checkpoint_interval_seconds=0.05)
    app = create_app(settings, engine=migrated_engine, cache=InProcessCache(), background_jobs=True)
    try:
        with TestClient(app) as client:
            deadline = time.monotonic() + 10
            while client.get("/log/health").status_code != 200:
                assert time.monotonic() < deadline, "no checkpoint was published"
                time.sleep(0.05)
            body = client.get("/log/health").json()
            assert body["serving"] is True and body["max_lag_seconds"] == 30
        with create_sessionmaker(migrated_engine)() as session:
            assert session.scalar(select(func.count()).select_from(LogCheckpoint)) >= 1
    finally:
        with migrated_engine.begin() as connection:
            for table in (LogEntry, LogTile, LogCheckpoint, LogSigningKey):
                connection.execute(delete(table))
            connection.execute(update(LogState).values(size=0, root_hash=EMPTY_ROOT))


@pytest.mark.slow
def test_a_round_blocked_on_the_log_lock_fails_with_a_code(migrated_engine, tmp_path):
    """A transaction left open on the log's state row (a second connection
    holds its lock): the round gives up after its lock timeout, and the 503
    and GET /log/health say why. Before, the round waited for ever and the
    refusals named no cause."""
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test")
    app = create_app(settings, engine=migrated_engine, cache=InProcessCache())
    _add_data_route(app)
    monitor = app.state.services.find(PublicationMonitor)
    sessions = create_sessionmaker(migrated_engine)
    bounds = RoundBounds(lock_timeout_s=0.2, statement_timeout_s=5)
    try:
        with migrated_engine.connect() as blocker:
            blocker.execute(update(LogState).values(generation=LogState.generation + 1))  # takes the lock
            assert publish_round(sessions, SECRET, origin=ORIGIN, monitor=monitor, bounds=bounds) is False
            blocker.rollback()
        assert monitor.failure is not None and monitor.failure.code == "checkpoint_blocked"
        with TestClient(app) as client:
            refused = client.get(DATA_ROUTE)
            assert refused.status_code == 503 and "(checkpoint_blocked)" in refused.json()["message"]
            health = client.get("/log/health").json()
            assert health["serving"] is False and health["publication_failure"]["code"] == "checkpoint_blocked"

        assert publish_round(sessions, SECRET, origin=ORIGIN, monitor=monitor, bounds=bounds) is True
        assert monitor.failure is None
    finally:
        with migrated_engine.begin() as connection:
            for table in (LogEntry, LogTile, LogCheckpoint, LogSigningKey):
                connection.execute(delete(table))
            connection.execute(update(LogState).values(size=0, root_hash=EMPTY_ROOT))
