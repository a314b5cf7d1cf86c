"""`certhub signing rotate KIND`, as docs/operations.md "Key rotation" tells an
operator to run it: real settings, a real SQLite file, every key kind."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from certhub.cli import app, context
from exchange.auditlog import log_origin, verifier_keys
from registry.setup import root_public_key
from signing import service
from signing.keys import load_public_key
from signing.statuses import KeyPurpose, KeyStatus
from signing.trustlist import TrustList
from signing.truststore import TrustStore

pytestmark = pytest.mark.slow  # migrates a database of its own

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CERTHUB_SECRET_KEY", "cli-rotate-secret-" + "z" * 40)
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTHUB_DEMO", raising=False)
    return tmp_path


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _create_seal() -> str:
    config = context.settings()
    with context.session_scope(config) as session:
        now = service.get_trust_root_key_or_raise(session=session).created_at
        seal = service.create_seal(
            session=session, owner_department_code="11350100MB0000001X", department_name="福州市市场监督管理局",
            seal_type="电子证照专用章", licence_type_codes=["*"], valid_from=now, valid_to=now + timedelta(days=365),
            key_secret=config.secret_bytes(), algorithm="SM2",
        )
        service.status_list_signing_key(session=session, registry_id=config.registry_id, key_secret=config.secret_bytes())
        service.ensure_presentation_key(session=session, key_secret=config.secret_bytes())
        return seal.es_id


def _keys(trust_list: TrustList, purpose: KeyPurpose) -> dict[str, KeyStatus]:
    return {key.kid: key.status for key in trust_list.content.keys if key.purpose == purpose}


def test_every_key_kind_rotates_from_the_command_line(env):
    assert run("db", "upgrade").exit_code == 0
    old_pin = root_public_key(run("signing", "init").output.strip().splitlines()[-1])
    es_id = _create_seal()
    assert run("audit", "checkpoint").exit_code == 0  # the log's first checkpoint key
    before = TrustList.from_json(run("signing", "trust-list").output.strip().encode(), root_public_key=old_pin)

    for args in (["seal", "--seal", es_id], ["presentation"], ["status-list"], ["checkpoint"]):
        result = run("signing", "rotate", *args)
        assert result.exit_code == 0, result.output
        assert "rotated" in result.output
    rotated_root = run("signing", "rotate", "trust-root")
    assert rotated_root.exit_code == 0, rotated_root.output
    new_pin = load_public_key(base64.b64decode(rotated_root.output.strip().splitlines()[-1]))
    assert new_pin != old_pin

    after_json = run("signing", "trust-list").output.strip().encode()
    after = TrustList.from_json(after_json, root_public_key=new_pin)
    assert after.sequence > before.sequence
    for purpose in (KeyPurpose.SEAL, KeyPurpose.PRESENTATION, KeyPurpose.STATUS_LIST, KeyPurpose.TRUST_ROOT):
        old = _keys(before, purpose)
        new = _keys(after, purpose)
        assert {kid: new[kid] for kid in old} == dict.fromkeys(old, KeyStatus.RETIRED), purpose
        assert list(new.values()).count(KeyStatus.ACTIVE) == 1, purpose
    # A verifier pinning both roots holds the old list, then the new one.
    store = TrustStore()
    for pin in (old_pin, new_pin):
        store.pin_root(registry_id=before.registry_id, root_public_key=pin)
    store.add(before)
    store.add_json(after_json)

    config = context.settings()
    with context.session_scope(config) as session:
        assert len(verifier_keys(session=session, origin=log_origin(config.registry_id))) == 2


def test_rotate_refuses_what_it_cannot_do(env):
    run("db", "upgrade")
    run("signing", "init")
    assert run("signing", "rotate", "maker").exit_code == 2
    assert run("signing", "rotate", "seal").exit_code == 2
    assert run("signing", "rotate", "presentation", "--seal", "x").exit_code == 2
    assert run("signing", "rotate", "status-list", "--algorithm", "SM2").exit_code == 2
    unknown = run("signing", "rotate", "seal", "--seal", "0" * 32)
    assert unknown.exit_code != 0 and "0" * 32 in unknown.output
