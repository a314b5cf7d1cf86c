"""Backup and restore, as docs/deployment.md tells an operator to drill it:
a registry with licences, exchange queries and a published checkpoint is
dumped with the real pg_dump (deploy/backup/certhub-backup), restored with
the real pg_restore into a new empty database (deploy/backup/certhub-restore),
served by `certhub serve` on loopback, and its use log verified by
`certhub audit verify` from the checkpoint saved before the dump. A byte
changed in one restored record makes the same verification fail.

PostgreSQL only: the dump and restore tools are PostgreSQL's."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.engine import make_url

from catalog import snapshots
from certhub.app import create_app
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from exchange.auditlog import publish_checkpoint, verifier_key
from exchange.auditlog.models import LogCheckpoint, LogEntry
from identity import clients
from signing.transparency.checkpoint import Checkpoint
from signing.transparency.note import NoteVerifier
from storage.cache import InProcessCache
from tests.adapters.loopback import free_port
from tests.environment import POSTGRES_URL, REPO_ROOT
from tests.factories.exchange import (
    BUSINESS_LICENCE,
    COMPANY,
    COUNTER,
    GULOU_POLICE,
    GULOU_SAMR,
    ID_CARD,
    KEY_SECRET,
    ORIGIN,
    OWNER,
    PLATFORM,
    apply,
    business_licence,
    consent,
    decide,
    department,
    holder,
    id_card,
    issue,
    load_world,
    query,
    results_by_item,
)
from tests.factories.settings import REGISTRY_ID, TEST_SECRET, app_settings
from tests.processes import stop_process

GUIDE = REPO_ROOT / "docs" / "deployment.md"
# The restore drill exactly as docs/deployment.md shows it (the test checks
# the guide carries each line, then runs it with the variables below).
BACKUP = 'deploy/backup/certhub-backup "$BACKUP_DIR"'
RESTORE = 'deploy/backup/certhub-restore "$DUMP" "$RESTORE_DATABASE_URL"'
SERVE = ('CERTHUB_DATABASE_URL="$RESTORE_DATABASE_URL" CERTHUB_DATA_DIR="$DRILL_DIR" CERTHUB_REDIS_URL= '
         'CERTHUB_EGRESS_PROXY=http://127.0.0.1:9 certhub serve --host 127.0.0.1 --port "$DRILL_PORT" --workers 1')
VERIFY = ('certhub audit verify --url "http://127.0.0.1:$DRILL_PORT/log/" --key "$LOG_KEY" '
          '--since "$DUMP.checkpoint" --client-id "$AUDITOR_ID"')
DATABASE_CHECK = 'CERTHUB_DATABASE_URL="$RESTORE_DATABASE_URL" certhub audit verify --database --key "$LOG_KEY"'
DRILL = (BACKUP, RESTORE, SERVE, VERIFY, DATABASE_CHECK)
CERTHUB = [sys.executable, "-c", "from certhub.cli import main; main()"]


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not on PATH: install PostgreSQL's client tools (postgresql-client-15)"
    return found


@dataclass
class Database:
    name: str
    url: str  # a libpq URL, as CERTHUB_DATABASE_URL is given


@pytest.fixture
def new_database() -> Iterator:
    """Makes empty databases on the test server, each with a unique name,
    owned by the test server's user or by a new login role (a service's own,
    not a superuser) reached by the same authentication; drops them all, and
    the roles, at the end."""
    admin = create_db_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    made: list[str] = []
    roles: list[str] = []

    def make(purpose: str, *, own_role: bool = False) -> Database:
        name = f"certhub_{purpose}_{os.getpid()}_{secrets.token_hex(4)}"
        url = make_url(POSTGRES_URL).set(database=name)
        with admin.connect() as connection:
            if own_role:
                role = f"{name}_owner"
                connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
                roles.append(role)
                url = url.set(username=role)
            connection.execute(text(f'CREATE DATABASE "{name}"' + (f' OWNER "{url.username}"' if own_role else "")))
        made.append(name)
        return Database(name, url.render_as_string(hide_password=False))

    try:
        yield make
    finally:
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in roles:
                connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@dataclass
class Registry:
    log_key: str
    log_size: int
    checkpoint: bytes  # the last note published before the backup
    auditor_id: str
    auditor_secret: str


def _build_registry(engine: Engine, data_dir: Path) -> Registry:
    """Licences issued, an agreement decided, a holder's consent, granted and
    refused exchange queries (the use log's records), a checkpoint over them."""
    make_session = create_sessionmaker(engine)
    with make_session() as session:
        load_world(session)
        auditor = clients.create(session=session, department_code=PLATFORM, name="auditor", scopes=["audit:read"])
        session.commit()
    app = create_app(app_settings(data_dir), engine=engine, cache=InProcessCache())
    try:
        with TestClient(app) as client, make_session() as session:
            police = department(client, session, GULOU_POLICE, "licence:issue", "exchange:provide")
            samr = department(client, session, GULOU_SAMR, "licence:issue", "exchange:provide")
            counter = department(client, session, COUNTER, "exchange:query", operator="clerk-07")
            issue(client, police, id_card())
            issue(client, samr, business_licence())
            asked = apply(client, counter, ID_CARD, provider=GULOU_POLICE, fields=["name", "id_number"])
            decide(client, police, asked["id"])
            consent(client, holder(app, OWNER, "111", "张三丰"), COUNTER, [ID_CARD])
            for _ in range(3):
                granted = query(client, counter, OWNER, "111", [ID_CARD])
                assert results_by_item(granted.json())[ID_CARD]["result"] == "granted", granted.text
            refused = query(client, counter, COMPANY, "001", [BUSINESS_LICENCE])
            assert results_by_item(refused.json())[BUSINESS_LICENCE]["reason"] == "no_agreement"
    finally:
        snapshots.forget(engine)
    with make_session() as session:
        published = publish_checkpoint(session=session, key_secret=KEY_SECRET, origin=ORIGIN)
        session.commit()
        key = verifier_key(session=session, origin=ORIGIN)
        assert session.scalar(select(func.count()).select_from(LogEntry)) == published.size
    return Registry(key, published.size, published.note, auditor.client_id, auditor.client_secret)


def _command(line: str, variables: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """A guide's shell line as argv and the variables it assigns, its $NAMEs filled in."""
    words = [re.sub(r"\$([A-Z_][A-Z0-9_]*)", lambda match: variables[match.group(1)], word)
             for word in shlex.split(line)]
    assigned = {}
    while "=" in words[0] and re.fullmatch(r"[A-Z_][A-Z0-9_]*", words[0].split("=", 1)[0]):
        name, value = words.pop(0).split("=", 1)
        assigned[name] = value
    if words[0] == "certhub":
        words = [*CERTHUB, *words[1:]]
    return words, assigned


def _environment(**extra: str) -> dict[str, str]:
    """The test run's environment without its certhub, Prometheus and OpenTelemetry settings."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("CERTHUB_", "PROMETHEUS_", "OTEL_"))}
    return {**kept, "PYTHONPATH": str(REPO_ROOT), **extra}


def _run(line: str, variables: dict[str, str], env: dict[str, str]) -> subprocess.CompletedProcess:
    argv, assigned = _command(line, variables)
    return subprocess.run(argv, cwd=REPO_ROOT, env={**env, **assigned}, capture_output=True, text=True, timeout=300)


def _wait_until_serving(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "the drill server did not start within 120 s"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)


def test_the_guide_shows_the_drill_this_test_runs():
    guide = GUIDE.read_text(encoding="utf-8")
    for line in DRILL:
        assert line in guide, f"docs/deployment.md does not show: {line}"


@pytest.mark.slow  # two databases, pg_dump, pg_restore and a served copy
@pytest.mark.skipif(POSTGRES_URL is None, reason="backup and restore are PostgreSQL's: set CERTHUB_TEST_DATABASE_URL")
def test_a_restored_database_passes_the_audit_and_a_changed_record_fails_it(new_database, tmp_path):
    for tool in ("pg_dump", "pg_restore", "psql"):
        _tool(tool)
    source = new_database("backup_source")
    engine = create_db_engine(source.url)
    try:
        upgrade(engine)
        registry = _build_registry(engine, tmp_path / "source")
    finally:
        engine.dispose()
    assert registry.log_size == 4  # the records of the queries above: three granted, one refused

    backups = tmp_path / "backups"
    backups.mkdir()
    env = _environment(CERTHUB_SECRET_KEY=TEST_SECRET, CERTHUB_REGISTRY_ID=REGISTRY_ID)
    variables = {"BACKUP_DIR": str(backups)}
    dumped = _run(BACKUP, variables, {**env, "CERTHUB_DATABASE_URL": source.url})
    assert dumped.returncode == 0, dumped.stderr
    dump = Path(dumped.stdout.strip())
    assert dump.parent == backups and dump.name.endswith(".dump") and dump.stat().st_mode & 0o077 == 0
    assert dump.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    saved = Path(f"{dump}.checkpoint").read_bytes()
    assert saved == registry.checkpoint
    assert Checkpoint.from_note(saved, verifiers=[NoteVerifier.from_key_string(registry.log_key)]).size > 0
    assert sorted(path.name for path in backups.iterdir()) == [dump.name, f"{dump.name}.checkpoint"]

    # Restored and served as the service's own role, as the guide says: objects end up owned by it.
    drill = new_database("restore_drill", own_role=True)
    variables.update(DUMP=str(dump), RESTORE_DATABASE_URL=drill.url, DRILL_DIR=str(tmp_path / "drill"),
                     DRILL_PORT=str(free_port()), LOG_KEY=registry.log_key, AUDITOR_ID=registry.auditor_id)
    restored = _run(RESTORE, variables, env)
    assert restored.returncode == 0, restored.stderr
    restored_engine = create_db_engine(drill.url)
    try:
        with restored_engine.connect() as connection:
            owners = connection.scalars(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"))
            assert set(owners) == {make_url(drill.url).username}
    finally:
        restored_engine.dispose()
    again = _run(RESTORE, variables, env)  # the script refuses a database that is not empty
    assert again.returncode == 1 and "not empty" in again.stderr

    argv, assigned = _command(SERVE, variables)
    log = tmp_path / "drill-server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(argv, cwd=REPO_ROOT, env={**env, **assigned}, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(server, f"http://127.0.0.1:{variables['DRILL_PORT']}", log)
        auditor = {**env, "CERTHUB_AUDIT_CLIENT_SECRET": registry.auditor_secret}
        verified = _run(VERIFY, variables, auditor)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "log verified" in verified.stdout
        size = int(re.search(r"^size: (\d+)$", verified.stdout, re.MULTILINE).group(1))
        assert size >= registry.log_size  # the drill server may have checkpointed since (none pending here)
        assert f"entries checked: {size}" in verified.stdout
        assert f"consistent with earlier checkpoint of size {registry.log_size}" in verified.stdout
        # The copy's searchable columns and per-subject map agree with its signed entries.
        checked = _run(DATABASE_CHECK, variables, env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "OK database matches the checkpoint" in checked.stdout

        # One byte of one restored record changed: the same command fails and names it.
        restored_engine = create_db_engine(drill.url)
        try:
            with restored_engine.begin() as connection:
                row = connection.execute(select(LogEntry.id, LogEntry.entry).where(LogEntry.leaf_index == 2)).one()
                changed = bytearray(row.entry)
                changed[-2] ^= 0x01
                connection.execute(update(LogEntry).where(LogEntry.id == row.id).values(entry=bytes(changed)))
                assert connection.scalar(select(func.max(LogCheckpoint.size))) == size
        finally:
            restored_engine.dispose()
        tampered = _run(VERIFY, variables, auditor)
        assert tampered.returncode == 1, tampered.stdout + tampered.stderr
        assert "entry_mismatch" in tampered.stderr and "first bad leaf index: 2" in tampered.stderr
        broken = _run(DATABASE_CHECK, variables, env)
        assert broken.returncode == 1 and "root_mismatch" in broken.stderr, broken.stdout + broken.stderr
    finally:
        stop_process(server)
