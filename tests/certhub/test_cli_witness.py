"""`certhub witness serve` over HTTP, as a log (or any C2SP client) meets it:
each answer of C2SP tlog-witness "add-checkpoint", and the key it keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from certhub.cli import app as cli_app
from certhub.db import create_db_engine, upgrade
from certhub.root import build_log_witnesses
from certhub.settings import LogWitnessSetting, Settings
from exchange.auditlog.witnessing import WitnessRound
from signing.transparency.cosignature import Cosigner, WitnessPolicy, add_cosignatures
from signing.transparency.note import Note, NoteSigner
from signing.transparency.treehashes import consistency_proof
from signing.transparency.witness import SIZE_CONTENT_TYPE, AddCheckpointRequest, parse_cosignatures
from signing.transparency.writer import LogWriter, MemoryStorage
from tests.factories.settings import TEST_SECRET
from tests.factories.witnesses import start_witness

pytestmark = pytest.mark.slow  # a witness process

ORIGIN = "registry.test/authorized-use-log"
NAME = "witness.test/w1"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    signer = NoteSigner.generate(ORIGIN)
    directory = tmp_path_factory.mktemp("witness")
    # The log it follows comes from a --config file (the other tests give --log-key).
    witness = start_witness(directory, NAME, signer.verifier.to_key_string(), through_config=True)
    try:
        yield witness, signer
    finally:
        witness.stop()


def _post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/add-checkpoint", content=body, timeout=10)


def test_add_checkpoint_answers_as_the_spec_says(served):
    witness, signer = served
    writer = LogWriter(storage=MemoryStorage(), origin=ORIGIN, signers=[signer])
    first = writer.append([b"entry %d" % i for i in range(7)])
    cosigned = _post(witness.url, AddCheckpointRequest(0, (), first).to_bytes())
    assert cosigned.status_code == 200, cosigned.text
    policy = WitnessPolicy.from_key_strings([witness.vkey], threshold=1)
    note = add_cosignatures(first, parse_cosignatures(cosigned.content))
    assert policy.require(note, log_verifiers=[signer.verifier]).cosigned_by == (NAME,)

    second = writer.append([b"entry 7"])
    # 409: the old size is not the witnessed one; the body names the witnessed size.
    conflict = _post(witness.url, AddCheckpointRequest(0, (), second).to_bytes())
    assert conflict.status_code == 409 and conflict.headers["content-type"] == SIZE_CONTENT_TYPE
    assert conflict.text == "7\n"
    # 422: a proof that does not lead from the witnessed root.
    bad_proof = _post(witness.url, AddCheckpointRequest(7, (bytes(32),) * 3, second).to_bytes())
    assert bad_proof.status_code == 422
    # 400: an old size past the new one, and a body that is not a request.
    assert _post(witness.url, AddCheckpointRequest(9, (), second).to_bytes()).status_code == 400
    assert _post(witness.url, b"old 01\n\n" + second).status_code == 400
    proof = consistency_proof(old_size=7, new_size=8, reader=writer.tile_reader)
    assert _post(witness.url, AddCheckpointRequest(7, tuple(proof), second).to_bytes()).status_code == 200


def test_unknown_logs_and_untrusted_signatures_are_refused(served):
    witness, _ = served
    other = LogWriter(storage=MemoryStorage(), origin="other.test/log", signers=[NoteSigner.generate("other.test/log")])
    assert _post(witness.url, AddCheckpointRequest(0, (), other.append([b"x"])).to_bytes()).status_code == 404
    impostor = LogWriter(storage=MemoryStorage(), origin=ORIGIN, signers=[NoteSigner.generate(ORIGIN)])
    assert _post(witness.url, AddCheckpointRequest(0, (), impostor.append([b"x"])).to_bytes()).status_code == 403
    assert _post(witness.url, b"x" * 200_000).status_code == 413


def test_the_witness_publishes_its_vkey_and_keeps_its_key(served):
    witness, _ = served
    assert httpx.get(f"{witness.url}/vkey", timeout=10).text.strip() == witness.vkey
    stored = Cosigner.from_key_string((witness.state_dir / "witness.key").read_text())
    assert stored.verifier.to_key_string() == witness.vkey
    assert (witness.state_dir / "witness.key").stat().st_mode & 0o077 == 0


def test_audit_checkpoint_asks_the_configured_witnesses(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(create_db_engine(url))
    monkeypatch.setenv("CERTHUB_DATABASE_URL", url)
    monkeypatch.setenv("CERTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CERTHUB_REGISTRY_ID", "https://registry.test")
    runner = CliRunner()
    first = runner.invoke(cli_app, ["audit", "checkpoint"])
    assert first.exit_code == 0, first.output
    log_key = first.stderr.split("verifier key: ")[1].strip()
    witness = start_witness(tmp_path, NAME, log_key)
    try:
        setting = [{"name": witness.name, "vkey": witness.vkey, "url": witness.url}]
        monkeypatch.setenv("CERTHUB_AUDITLOG_WITNESSES", json.dumps(setting))
        cosigned = runner.invoke(cli_app, ["audit", "checkpoint"])
        assert cosigned.exit_code == 0, cosigned.output
        assert [line.name for line in Note.from_bytes(cosigned.stdout.encode()).signatures] == [ORIGIN, NAME]
    finally:
        witness.stop()
    # The witness is gone: the checkpoint is still published, and the command says the policy is not met.
    alone = runner.invoke(cli_app, ["audit", "checkpoint"])
    assert alone.exit_code == 0, alone.output
    assert len(Note.from_bytes(alone.stdout.encode()).signatures) == 1
    assert f"witness policy not met: 0 of 1 ({NAME}: unreachable)" in alone.stderr


def test_witness_settings_are_checked():
    cosigner = Cosigner.generate(NAME)
    vkey = cosigner.verifier.to_key_string()
    with pytest.raises(ValueError, match="named"):
        LogWitnessSetting(name="someone.else/w2", vkey=vkey, url="http://127.0.0.1:1")
    with pytest.raises(ValueError):
        LogWitnessSetting(name=NAME, vkey=NoteSigner.generate(NAME).verifier.to_key_string(), url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="http"):
        LogWitnessSetting(name=NAME, vkey=vkey, url="ftp://127.0.0.1/")
    witness = LogWitnessSetting(name=NAME, vkey=vkey, url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="QUORUM"):
        Settings(auditlog_witnesses=[witness], auditlog_witness_quorum=2)
    with pytest.raises(ValueError, match="once"):
        Settings(auditlog_witnesses=[witness, witness])


def test_a_witness_round_is_counted_in_the_metrics():
    setting = LogWitnessSetting(name=NAME, vkey=Cosigner.generate(NAME).verifier.to_key_string(),
                                url="http://127.0.0.1:1")
    witnesses = build_log_witnesses(Settings(auditlog_witnesses=[setting]))
    assert witnesses is not None and witnesses.threshold == 1
    now = datetime.now(UTC)
    witnesses.record(WitnessRound(size=5, cosigned_by=(NAME,), missing={}, threshold=1, at=now))
    assert REGISTRY.get_sample_value("certhub_log_witness_policy_met") == 1.0
    assert REGISTRY.get_sample_value("certhub_log_witness_cosignatures") == 1.0
    witnesses.record(WitnessRound(size=6, cosigned_by=(), missing={NAME: "unreachable"}, threshold=1, at=now))
    assert REGISTRY.get_sample_value("certhub_log_witness_policy_met") == 0.0
    assert witnesses.to_json()["last_round"]["missing"] == {NAME: "unreachable"}

