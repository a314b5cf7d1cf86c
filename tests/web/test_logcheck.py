"""The auditor console's "verify the log": the same verifier as
`certhub audit verify`, over this server's own tiles, with the same answers."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from exchange.auditlog import LogEntry, publish_checkpoint, verifier_key
from exchange.auditlog.models import LogTile
from identity.tokens import TokenAuthority
from signing.transparency import NoteSigner, verify_log
from tests.factories.log_sources import in_process_source
from tests.factories.use_records import DEPT, HOLDER, ORIGIN, SECRET, use

pytestmark = pytest.mark.slow  # verifies whole logs over HTTP


@pytest.fixture
def auditor(app):
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=DEPT, scopes=["audit:read"])
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def filled(db_session):
    for n in range(300):
        use(db_session, subject_code=HOLDER if n % 3 == 0 else f"9135010{n:011d}", case_number=f"C-{n}")
    published = publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)
    db_session.commit()
    return published


def test_verifies_like_the_cli_over_http(auditor, db_session, filled):
    answer = auditor.post("/web/api/verify-log", json={})
    assert answer.status_code == 200
    result = answer.json()
    # What `certhub audit verify --url <server>/log/` computes from the published tiles.
    cli = verify_log(source=in_process_source(auditor),
                     verifier_key=verifier_key(session=db_session, origin=ORIGIN), fetch_threads=1)
    assert result["ok"] is True and result["signature_ok"] is True
    assert result["size"] == cli.size == 300
    assert base64.b64decode(result["root_hash"]) == cli.root_hash == filled.root_hash
    assert result["tiles_checked"] == cli.tiles_checked and result["entries_checked"] == cli.entries_checked == 300
    assert result["origin"] == ORIGIN and result["key_source"] == "server"


def test_without_entries_checks_tiles_only(auditor, filled):
    result = auditor.post("/web/api/verify-log", json={"entries": False}).json()
    assert result["ok"] is True and result["entries_checked"] == 0 and result["tiles_checked"] > 0


def test_a_changed_record_fails_with_the_first_bad_leaf(auditor, db_session, filled):
    row = db_session.scalar(select(LogEntry).where(LogEntry.leaf_index == 42))
    changed = bytearray(row.entry)
    changed[-3] ^= 0x01
    db_session.execute(update(LogEntry).where(LogEntry.id == row.id).values(entry=bytes(changed)))
    db_session.commit()
    result = auditor.post("/web/api/verify-log", json={}).json()
    assert result["ok"] is False and result["code"] == "entry_mismatch" and result["index"] == 42
    assert result["path"] == "tile/entries/000"


def test_a_changed_tile_fails(auditor, db_session, filled):
    tile = db_session.scalar(select(LogTile).where(LogTile.level == 0, LogTile.tile_index == 1))
    data = bytearray(tile.data)
    data[0] ^= 0xFF
    db_session.execute(update(LogTile).where(LogTile.level == 0, LogTile.tile_index == 1).values(data=bytes(data)))
    db_session.commit()
    result = auditor.post("/web/api/verify-log", json={"entries": False}).json()
    assert result["ok"] is False and result["code"] == "root_mismatch"


def test_a_key_from_elsewhere_must_match(auditor, db_session, filled):
    stranger = NoteSigner(name=ORIGIN, seed=bytes(range(32))).verifier.to_key_string()
    result = auditor.post("/web/api/verify-log", json={"key": stranger}).json()
    assert result["ok"] is False and result["code"] == "bad_signature" and result["key_source"] == "given"
    good = verifier_key(session=db_session, origin=ORIGIN)
    assert auditor.post("/web/api/verify-log", json={"key": good}).json()["ok"] is True
    assert auditor.post("/web/api/verify-log", json={"key": "not a key"}).json()["code"] == "bad_key"


def test_an_empty_log_says_so(auditor):
    result = auditor.post("/web/api/verify-log", json={}).json()
    assert result["ok"] is False and result["code"] == "missing_checkpoint"


def test_needs_the_audit_scope(app, client, filled):
    assert client.post("/web/api/verify-log", json={}).status_code == 401
    token = app.state.services.find(TokenAuthority).issue(client_id="counter-1", department_code=DEPT,
                                            scopes=["presentation:redeem"])
    answer = client.post("/web/api/verify-log", json={}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


def test_the_request_is_bounded(auditor):
    assert auditor.post("/web/api/verify-log", json={"key": "x" * 600}).status_code == 422
    assert auditor.post("/web/api/verify-log", json={"since": "x"}).status_code == 422
