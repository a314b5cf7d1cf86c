"""Witness cosigning with real processes: two `certhub witness serve`
witnesses, the log, its server on loopback and `certhub audit verify`
requiring their cosignatures; a witness that is down; a forked log the
witnesses refuse, keeping the evidence."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from catalog.access import UseRecord
from certhub.app import create_app
from certhub.cli.audit import app as audit_cli
from certhub.db import create_sessionmaker
from certhub.settings import LogWitnessSetting, Settings
from exchange.auditlog import insert_pending, publish_checkpoint, verifier_key, witnessing
from exchange.auditlog.checkpoints import publish_round
from exchange.auditlog.models import (
    LogCheckpoint,
    LogCheckpointTimestamp,
    LogCosignature,
    LogEntry,
    LogSigningKey,
    LogState,
    LogTile,
    SubjectHead,
)
from exchange.auditlog.witnessing import LogWitness, LogWitnesses, witness_round
from identity.tokens import TokenAuthority
from registry.service.pdfsigning import TsaClient
from signing.transparency import EMPTY_ROOT
from signing.transparency.cosignature import Cosigner, CosignerVerifier
from signing.transparency.note import Note
from signing.transparency.tiles import TILE_WIDTH, BundleCoord, tiles_for_size
from storage.cache import InProcessCache
from storage.egress import Egress
from tests.factories.catalog import uscc
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import ORIGIN, SECRET
from tests.factories.witnesses import RunningWitness, start_witness
from tests.processes import stop_process
from tests.tsa import LoopbackTsa

pytestmark = pytest.mark.slow  # starts witness processes and a server

USE = {"kind": "department_query", "department_code": "11350100MB0000001X", "operator_id": "clerk-7",
       "basis": "holder_presentation", "subject_code": "350102199001011234", "fields": ["姓名"],
       "matter_code": "350100-0001", "purpose": "办理营业执照变更"}
NAMES = ("witness-a.test/w1", "witness-b.test/w2")
AUDIT_DEPT = uscc("11350100MB0000077")
GOPATH = Path("/usr/share/gocode")
GO_VERIFIER = Path(__file__).parents[1] / "assets" / "go_verifier" / "main.go"
runner = CliRunner()


def _reset(engine, *, keep_key: bool = False) -> None:
    with engine.begin() as connection:
        for table in (LogCosignature, LogCheckpointTimestamp, SubjectHead, LogEntry, LogTile, LogCheckpoint):
            connection.execute(delete(table))
        if not keep_key:
            connection.execute(delete(LogSigningKey))
        connection.execute(update(LogState).values(size=0, root_hash=EMPTY_ROOT))


def _append_and_publish(make_session, count: int, *, tag: str) -> bytes:
    with make_session() as session:
        insert_pending(session=session, records=[UseRecord(**USE, case_number=f"{tag}-{n}") for n in range(count)],
                       now=datetime.now(UTC))
        published = publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN)
        session.commit()
    return published.note


@dataclass
class WitnessedLog:
    make_session: object
    engine: object
    log_key: str
    witnesses: list[RunningWitness]
    log_witnesses: LogWitnesses
    first_note: bytes


@pytest.fixture
def witnessed(migrated_engine, tmp_path) -> Iterator[WitnessedLog]:
    make_session = create_sessionmaker(migrated_engine)
    with make_session() as session:
        assert session.scalar(select(LogEntry.id).limit(1)) is None, "log tables must start empty"
    started: list[RunningWitness] = []
    try:
        first = _append_and_publish(make_session, 10, tag="A")
        with make_session() as session:
            log_key = verifier_key(session=session, origin=ORIGIN)
        assert log_key is not None
        started = [start_witness(tmp_path, name, log_key) for name in NAMES]
        log_witnesses = LogWitnesses.over_egress(
            [LogWitness(verifier=CosignerVerifier.from_key_string(w.vkey), url=w.url) for w in started],
            threshold=2, egress=Egress(), timeout_s=10)
        yield WitnessedLog(make_session, migrated_engine, log_key, started, log_witnesses, first)
    finally:
        for running in started:
            stop_process(running.process)
        _reset(migrated_engine)


def _serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def _verify(url: str, log_key: str, *witness_options: str):
    return runner.invoke(audit_cli, ["verify", "--url", f"{url}/log/", "--key", log_key, *witness_options])


def test_checkpoint_served_with_two_cosignatures_that_the_verifier_requires(witnessed, tmp_path):
    first = witness_round(witnessed.make_session, witnessed.log_witnesses)
    assert first is not None and first.met and set(first.cosigned_by) == set(NAMES)
    # Asked about the same checkpoint again, each witness keeps its one line.
    assert witness_round(witnessed.make_session, witnessed.log_witnesses).met
    with witnessed.make_session() as session:
        note = session.scalars(select(LogCheckpoint.note).order_by(LogCheckpoint.id.desc()).limit(1)).one()
        assert len(Note.from_bytes(bytes(note)).signatures) == 3
    # The next checkpoint goes to each witness with a consistency proof from the size it cosigned.
    _append_and_publish(witnessed.make_session, 300, tag="B")
    second = witness_round(witnessed.make_session, witnessed.log_witnesses)
    assert second is not None and second.size == 310 and second.met, second
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test",
                        auditlog_witnesses=[LogWitnessSetting(name=w.name, vkey=w.vkey, url=w.url)
                                            for w in witnessed.witnesses])
    app = create_app(settings, engine=witnessed.engine, cache=InProcessCache())
    server, thread, url = _serve(app)
    try:
        served = httpx.get(f"{url}/log/checkpoint", timeout=10).content
        lines = Note.from_bytes(served).signatures
        assert [line.name for line in lines] == [ORIGIN, *NAMES]
        assert httpx.get(f"{url}/log/witnesses", timeout=10).json()["threshold"] == 2
        keys = [option for w in witnessed.witnesses for option in ("--witness", w.vkey)]
        ok = _verify(url, witnessed.log_key, *keys)
        assert ok.exit_code == 0, ok.output
        assert f"cosigned by: {', '.join(NAMES)}" in ok.stdout and "size: 310" in ok.stdout
        # A witness the verifier trusts but that did not cosign: 2 of 3 is not 3 of 3.
        stranger = Cosigner.generate("witness-c.test/w3").verifier.to_key_string()
        unmet = _verify(url, witnessed.log_key, *keys, "--witness", stranger)
        assert unmet.exit_code == 1 and "witness_policy_unmet" in unmet.stderr, unmet.output
        assert _verify(url, witnessed.log_key, *keys, "--witness", stranger, "--witness-quorum", "2").exit_code == 0
        # Without the cosignatures (the log's own signature only) the same policy refuses it.
        with witnessed.make_session() as session:
            latest = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1)).one()
            latest.note = Note(text=Note.from_bytes(served).text, signatures=lines[:1]).to_bytes()
            session.commit()
        stripped = _verify(url, witnessed.log_key, *keys)
        assert stripped.exit_code == 1 and "witness_policy_unmet" in stripped.stderr, stripped.output
    finally:
        server.should_exit = True
        thread.join(timeout=10)



def test_the_log_serves_the_newest_checkpoint_its_witnesses_cosigned(witnessed, tmp_path, monkeypatch):
    """A checkpoint between its commit and its witnesses' answers is not what /log/checkpoint serves:
    verifiers enforcing the policy never fetch one that could not meet it yet."""
    assert witness_round(witnessed.make_session, witnessed.log_witnesses).met  # size 10, cosigned
    _append_and_publish(witnessed.make_session, 5, tag="D")  # size 15, not yet asked
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test",
                        auditlog_witnesses=[LogWitnessSetting(name=w.name, vkey=w.vkey, url=w.url)
                                            for w in witnessed.witnesses])
    app = create_app(settings, engine=witnessed.engine, cache=InProcessCache())
    server, thread, url = _serve(app)
    try:
        def served() -> tuple[int, list[str]]:
            note = Note.from_bytes(httpx.get(f"{url}/log/checkpoint", timeout=10).content)
            return int(note.text.split("\n")[1]), [line.name for line in note.signatures]

        assert served() == (10, [ORIGIN, *NAMES])
        keys = [option for w in witnessed.witnesses for option in ("--witness", w.vkey)]
        assert _verify(url, witnessed.log_key, *keys).exit_code == 0
        assert witness_round(witnessed.make_session, witnessed.log_witnesses).met
        assert served() == (15, [ORIGIN, *NAMES])
        # Witnesses gone for longer than the look-back: the newest is served as it is, and fails the policy.
        monkeypatch.setattr(witnessing, "WITNESSED_LOOKBACK", 1)
        _append_and_publish(witnessed.make_session, 5, tag="E")
        assert served() == (20, [ORIGIN])
        assert _verify(url, witnessed.log_key, *keys).exit_code == 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)



def test_a_checkpoint_cosigned_by_two_witnesses_and_time_stamped_is_what_the_verifier_requires(witnessed, tmp_path):
    """The whole of it at once: a checkpointer round time-stamps the checkpoint with a real TSA and has
    both witness processes cosign it; the verifier, given both witnesses and the TSA's CA, accepts it,
    and refuses it when either outside party's check cannot be met."""
    with LoopbackTsa() as tsa:
        assert publish_round(witnessed.make_session, SECRET, origin=ORIGIN, witnesses=witnessed.log_witnesses,
                             timestamps=TsaClient(url=tsa.url, egress=Egress()).post)
        assert tsa.replies == 1
        ca = tmp_path / "tsa-ca.der"
        ca.write_bytes(tsa.ca_certificate)
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test",
                        auditlog_witnesses=[LogWitnessSetting(name=w.name, vkey=w.vkey, url=w.url)
                                            for w in witnessed.witnesses])
    app = create_app(settings, engine=witnessed.engine, cache=InProcessCache())
    server, thread, url = _serve(app)
    try:
        served = Note.from_bytes(httpx.get(f"{url}/log/checkpoint", timeout=10).content)
        assert [line.name for line in served.signatures] == [ORIGIN, *NAMES]
        keys = [option for w in witnessed.witnesses for option in ("--witness", w.vkey)]
        both = _verify(url, witnessed.log_key, *keys, "--tsa-ca", str(ca))
        assert both.exit_code == 0, both.output
        assert f"cosigned by: {', '.join(NAMES)}" in both.stdout and "time-stamped: size 10" in both.stdout
        # A third witness the verifier trusts (3 of 3), or a TSA it does not: refused.
        stranger = Cosigner.generate("witness-c.test/w3").verifier.to_key_string()
        assert _verify(url, witnessed.log_key, *keys, "--witness", stranger, "--tsa-ca", str(ca)).exit_code == 1
        with LoopbackTsa() as other:
            other_ca = tmp_path / "other-ca.der"
            other_ca.write_bytes(other.ca_certificate)
        untrusted = _verify(url, witnessed.log_key, *keys, "--tsa-ca", str(other_ca))
        assert untrusted.exit_code == 1 and "timestamp_untrusted" in untrusted.stderr, untrusted.output
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _build_go_verifier(tmp_path: Path) -> Path:
    """Compile tests/assets/go_verifier offline against Debian's golang.org/x/mod (GOPATH mode)."""
    go = shutil.which("go")
    assert go is not None, "Go is missing: apt-get install golang-go golang-golang-x-mod-dev (README)"
    assert (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir(), "golang-golang-x-mod-dev is not installed"
    binary = tmp_path / "verifylog"
    environment = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(tmp_path / "gocache"),
                   "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "", "CGO_ENABLED": "0"}
    built = subprocess.run([go, "build", "-o", str(binary), str(GO_VERIFIER)], env=environment, cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    return binary


def _mirror(client, directory: Path, *, size: int, token: str) -> None:
    """The log's files as certhub serves them under /log/, into a tlog-tiles directory."""
    paths = ["checkpoint", *(coord.path for coord in tiles_for_size(size))]
    bundles = [BundleCoord(index, min(TILE_WIDTH, size - index * TILE_WIDTH))
               for index in range(-(-size // TILE_WIDTH))]
    for path in paths + [bundle.path for bundle in bundles]:
        answer = client.get(f"/log/{path}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, (path, answer.text)
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(answer.content)


def test_go_sumdb_note_and_tlog_verify_the_cosigned_log(witnessed, tmp_path):
    """Point 8 of issue 25: an implementation that is not certhub's checks what certhub wrote."""
    binary = _build_go_verifier(tmp_path)
    assert witness_round(witnessed.make_session, witnessed.log_witnesses).met
    with witnessed.make_session() as session:
        earlier = bytes(session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1)).one().note)
    (tmp_path / "earlier-checkpoint").write_bytes(earlier)
    _append_and_publish(witnessed.make_session, 300, tag="GO")
    assert witness_round(witnessed.make_session, witnessed.log_witnesses).met
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test")
    app = create_app(settings, engine=witnessed.engine, cache=InProcessCache())
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=AUDIT_DEPT,
                                                          scopes=["audit:read"])
    with TestClient(app) as client:
        _mirror(client, tmp_path / "log", size=310, token=token)
    vkeys = [w.vkey for w in witnessed.witnesses]
    command = [str(binary), str(tmp_path / "log"), witnessed.log_key, str(tmp_path / "earlier-checkpoint")]
    run = subprocess.run([*command, *vkeys], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout == "OK size=310 cosigned=2\n", run.stderr
    # The Go check can fail: a witness that did not cosign, and a changed entry, are refused.
    stranger = Cosigner.generate("witness-c.test/w3").verifier.to_key_string()
    refused = subprocess.run([*command, stranger], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "no valid cosignature" in refused.stderr
    bundle = tmp_path / "log" / BundleCoord(0, TILE_WIDTH).path
    data = bytearray(bundle.read_bytes())
    data[10] ^= 0x01
    bundle.write_bytes(bytes(data))
    tampered = subprocess.run([*command, *vkeys], capture_output=True, text=True, timeout=120)
    assert tampered.returncode == 1 and "FAILED" in tampered.stderr


def test_the_auditor_page_verify_requires_the_witnesses(witnessed, tmp_path):
    assert witness_round(witnessed.make_session, witnessed.log_witnesses).met
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test",
                        auditlog_witnesses=[LogWitnessSetting(name=w.name, vkey=w.vkey, url=w.url)
                                            for w in witnessed.witnesses])
    app = create_app(settings, engine=witnessed.engine, cache=InProcessCache())
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=AUDIT_DEPT,
                                                          scopes=["audit:read"])
    stranger = Cosigner.generate("witness-c.test/w3").verifier.to_key_string()
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        # Without witnesses of the auditor's own, this server's are required.
        served = client.post("/web/api/verify-log", json={}).json()
        assert served["ok"] is True and served["witness_source"] == "server", served
        assert served["cosigned_by"] == list(NAMES)
        given = client.post("/web/api/verify-log", json={"witnesses": [w.vkey for w in witnessed.witnesses]}).json()
        assert given["ok"] is True and given["witness_source"] == "given"
        refused = client.post("/web/api/verify-log", json={"witnesses": [stranger]}).json()
        assert refused["ok"] is False and refused["code"] == "witness_policy_unmet", refused
        bad = client.post("/web/api/verify-log", json={"witnesses": [stranger], "witness_quorum": 2}).json()
        assert bad["ok"] is False and bad["code"] == "bad_witness_policy"


def test_a_witness_that_is_down_does_not_block_publication(witnessed, tmp_path):
    assert witness_round(witnessed.make_session, witnessed.log_witnesses).met
    stop_process(witnessed.witnesses[1].process)
    _append_and_publish(witnessed.make_session, 5, tag="C")
    round_ = witness_round(witnessed.make_session, witnessed.log_witnesses)
    assert round_ is not None and round_.size == 15
    assert round_.cosigned_by == (NAMES[0],) and not round_.met
    assert round_.missing == {NAMES[1]: "unreachable"}
    health = witnessed.log_witnesses.to_json()
    assert health["policy_met"] is False and health["last_round"]["missing"] == {NAMES[1]: "unreachable"}
    with witnessed.make_session() as session:
        latest = session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1)).one()
        assert latest.size == 15
        assert [line.name for line in Note.from_bytes(bytes(latest.note)).signatures] == [ORIGIN, NAMES[0]]


def test_a_forked_log_is_refused_by_the_witnesses_and_the_evidence_kept(witnessed):
    assert witness_round(witnessed.make_session, witnessed.log_witnesses).met
    # The operator rewrites history: same key, same size, other entries.
    _reset(witnessed.engine, keep_key=True)
    forked = _append_and_publish(witnessed.make_session, 10, tag="FORK")
    assert Note.from_bytes(forked).text != Note.from_bytes(witnessed.first_note).text
    round_ = witness_round(witnessed.make_session, witnessed.log_witnesses)
    assert round_ is not None and round_.cosigned_by == () and not round_.met
    assert round_.missing == dict.fromkeys(NAMES, "http_409")
    for running in witnessed.witnesses:
        (kept,) = (running.state_dir / "evidence").iterdir()
        assert "fork" in kept.name
        assert Note.from_bytes((kept / "witnessed-checkpoint").read_bytes()).text == Note.from_bytes(
            witnessed.first_note).text
        assert (kept / "submitted-checkpoint").read_bytes() == forked
        assert (kept / "add-checkpoint-request").read_bytes().startswith(b"old 10\n\n")
