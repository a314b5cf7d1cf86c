"""`certhub audit verify --url` against certhub itself, served by uvicorn on
loopback: tiles for anyone, entry bundles only with an audit:read token, and
each kind of tampering in the database named by the verifier."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import uvicorn
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from catalog.access import UseRecord
from catalog.models import Department
from catalog.schemas import DepartmentIn
from catalog.service import departments
from certhub.app import create_app
from certhub.cli.audit import app as audit_cli
from certhub.db import create_sessionmaker
from certhub.settings import Settings
from exchange.auditlog import insert_pending, publish_checkpoint, verifier_key
from exchange.auditlog.models import LogCheckpoint, LogEntry, LogSigningKey, LogState, LogTile
from identity import clients
from identity.models import ApiClient
from identity.tokens import TokenAuthority
from signing.transparency import EMPTY_ROOT
from storage.cache import InProcessCache
from tests.factories.catalog import uscc
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import ORIGIN, SECRET, use

pytestmark = pytest.mark.slow  # verifies whole logs through the CLI

AUDIT_DEPT = uscc("11350100MB0000077")
USE = {"kind": "department_query", "department_code": "11350100MB0000001X", "operator_id": "clerk-7",
       "basis": "holder_presentation", "subject_code": "350102199001011234", "fields": ["姓名"], "matter_code": "350100-0001",
       "purpose": "办理营业执照变更"}
SIZE = 300
runner = CliRunner()


@dataclass
class ServedLog:
    url: str
    key: str
    token: str
    unscoped_token: str
    make_session: object


def _reset(engine) -> None:
    with engine.begin() as connection:
        for table in (LogEntry, LogTile, LogCheckpoint, LogSigningKey):
            connection.execute(delete(table))
        connection.execute(update(LogState).values(size=0, root_hash=EMPTY_ROOT))
        connection.execute(delete(ApiClient).where(ApiClient.department_code == AUDIT_DEPT))
        connection.execute(delete(Department).where(Department.code == AUDIT_DEPT))


def _start(app) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    return server, thread


@pytest.fixture
def served(migrated_engine, tmp_path):
    """The log of SIZE committed records, served by a real app on loopback."""
    make_session = create_sessionmaker(migrated_engine)
    try:
        with make_session() as session:
            assert session.scalar(select(LogEntry.id).limit(1)) is None, "log tables must start empty"
            insert_pending(session=session, records=[UseRecord(**USE, case_number=f"C-{n}") for n in range(SIZE)],
                           now=datetime.now(UTC))
            publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN)
            session.commit()
            key = verifier_key(session=session, origin=ORIGIN)
        settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test")
        app = create_app(settings, engine=migrated_engine, cache=InProcessCache())
        authority = app.state.services.find(TokenAuthority)
        token = authority.issue(client_id="auditor-1", department_code=AUDIT_DEPT, scopes=["audit:read"])
        unscoped = authority.issue(client_id="system-1", department_code=AUDIT_DEPT, scopes=["exchange:query"])
        server, thread = _start(app)
        try:
            port = server.servers[0].sockets[0].getsockname()[1]
            yield ServedLog(f"http://127.0.0.1:{port}/log/", key, token, unscoped, make_session)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    finally:
        _reset(migrated_engine)


def _verify(served: ServedLog, *extra: str):
    return runner.invoke(audit_cli, ["verify", "--url", served.url, "--key", served.key, *extra])


@pytest.fixture
def audit_client(served):
    """An audit:read API client of an audit office (removed by ``served``)."""
    with served.make_session() as session:
        departments.upsert(session=session, entry=DepartmentIn(
            code=AUDIT_DEPT, name="福州市审计局", region="350100", level="city"))
        session.flush()
        new = clients.create(session=session, department_code=AUDIT_DEPT, name="auditor", scopes=["audit:read"])
        session.commit()
    return new


def test_tiles_only_without_credentials_and_every_entry_with_them(served, audit_client):
    anonymous = _verify(served)
    assert anonymous.exit_code == 0, anonymous.output
    assert "entries NOT checked" in anonymous.stdout and "entries checked: 0" in anonymous.stdout
    assert "no audit:read token" in anonymous.stdout and f"size: {SIZE}" in anonymous.stdout

    with_token = _verify(served, "--token", served.token)
    assert with_token.exit_code == 0, with_token.output
    assert f"entries checked: {SIZE}" in with_token.stdout and "log verified" in with_token.stdout

    # Client credentials: the CLI gets an audit:read token from the log's host first.
    with_client = _verify(served, "--client-id", audit_client.client_id, "--client-secret", audit_client.client_secret)
    assert with_client.exit_code == 0, with_client.output
    assert f"entries checked: {SIZE}" in with_client.stdout


def test_refused_credentials_and_bad_options(served, audit_client):
    wrong = _verify(served, "--client-id", audit_client.client_id, "--client-secret", "wrong-secret-value")
    assert wrong.exit_code == 2
    assert "invalid_client" in wrong.stderr and "wrong-secret-value" not in wrong.output
    forged = _verify(served, "--token", "not.a.valid-token")
    assert forged.exit_code == 1 and "fetch_failed" in forged.stderr and "HTTP 401" in forged.stderr
    unscoped = _verify(served, "--token", served.unscoped_token)
    assert unscoped.exit_code == 1 and "HTTP 403" in unscoped.stderr

    assert _verify(served, "--entries").exit_code == 2  # entries over --url need a token
    assert _verify(served, "--client-id", "auditor-1").exit_code == 2
    assert _verify(served, "--token", served.token, "--client-id", "x", "--client-secret", "y").exit_code == 2
    remote = runner.invoke(audit_cli, ["verify", "--url", "http://logs.example.gov.cn/log/", "--key", served.key,
                                       "--token", served.token])
    assert remote.exit_code == 2 and "plain http" in remote.stderr


def test_changed_byte_of_a_stored_record_names_its_index(served):
    with served.make_session() as session:
        row = session.scalar(select(LogEntry).where(LogEntry.leaf_index == 261))
        changed = bytearray(row.entry)
        changed[-3] ^= 0x01
        session.execute(update(LogEntry).where(LogEntry.id == row.id).values(entry=bytes(changed)))
        session.commit()
    assert _verify(served).exit_code == 0  # the tiles alone cannot see it ...
    result = _verify(served, "--token", served.token)  # ... the entries can
    assert result.exit_code == 1
    assert "entry_mismatch" in result.stderr and "first bad leaf index: 261" in result.stderr
    assert "tile/entries/001" in result.stderr


def test_deleted_record_names_its_index(served):
    with served.make_session() as session:
        session.execute(delete(LogEntry).where(LogEntry.leaf_index == 17))
        session.commit()
    result = _verify(served, "--token", served.token)
    assert result.exit_code == 1
    assert "entry_mismatch" in result.stderr and "first bad leaf index: 17" in result.stderr


def test_rewritten_history_fails_since_the_earlier_checkpoint(served, tmp_path):
    with served.make_session() as session:
        earlier = bytes(session.scalar(select(LogCheckpoint.note).order_by(LogCheckpoint.id.desc()).limit(1)))
    (tmp_path / "earlier").write_bytes(earlier)
    # The operator changes record 5, recomputes every tile and re-signs with the log's own key.
    with served.make_session() as session:
        row = session.scalar(select(LogEntry).where(LogEntry.leaf_index == 5))
        session.execute(update(LogEntry).where(LogEntry.id == row.id).values(entry=row.entry.replace(b"C-", b"D-")))
        session.execute(update(LogEntry).values(leaf_index=None))
        session.execute(delete(LogTile))
        session.execute(update(LogState).values(size=0, root_hash=EMPTY_ROOT))
        session.commit()
        for n in range(3):
            use(session, case_number=f"later-{n}")
        publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN)
        session.commit()
    alone = _verify(served, "--token", served.token)
    assert alone.exit_code == 0, alone.output  # self-consistent on its own ...
    result = _verify(served, "--token", served.token, "--since", str(tmp_path / "earlier"))
    assert result.exit_code == 1  # ... but not an extension of what the auditor saw
    assert "inconsistent_history" in result.stderr and f"size {SIZE}" in result.stderr


def test_a_rotated_checkpoint_key_verifies_with_every_key_of_the_history(served, tmp_path):
    from exchange.auditlog import rotate_checkpoint_key, verifier_keys

    with served.make_session() as session:
        earlier = bytes(session.scalar(select(LogCheckpoint.note).order_by(LogCheckpoint.id.desc()).limit(1)))
        rotate_checkpoint_key(session=session, key_secret=SECRET, origin=ORIGIN)
        for n in range(3):
            use(session, case_number=f"after-rotation-{n}")
        publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN)
        session.commit()
        history = verifier_keys(session=session, origin=ORIGIN)
    (tmp_path / "earlier").write_bytes(earlier)
    assert history[0] == served.key and len(history) == 2
    old_only = _verify(served, "--no-entries", "--since", str(tmp_path / "earlier"))
    assert old_only.exit_code == 1 and "bad_signature" in old_only.stderr
    keys = [arg for key in history for arg in ("--key", key)]
    both = runner.invoke(audit_cli, ["verify", "--url", served.url, *keys, "--no-entries", "--since", str(tmp_path / "earlier")])
    assert both.exit_code == 0, both.output
    assert f"size {SIZE + 3}" in both.stdout or str(SIZE + 3) in both.stdout
