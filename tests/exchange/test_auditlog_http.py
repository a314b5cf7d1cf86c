"""The DB-backed log over HTTP: tiles, checkpoint, proofs, and the independent
verifier detecting tampering."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from exchange.auditlog import (
    LogEntry,
    LogUnavailable,
    consistency,
    ensure_log_healthy,
    inclusion,
    publish_checkpoint,
    records_for_subject,
    verifier_key,
)
from exchange.auditlog.models import LogState, LogTile
from exchange.auditlog.subjects import tag_key
from identity.tokens import TokenAuthority
from signing.transparency import (
    Checkpoint,
    LogVerificationError,
    NoteVerifier,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
    verify_log,
)
from tests.factories.log_sources import in_process_source
from tests.factories.use_records import DEPT, HOLDER, ORIGIN, SECRET, use

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


def _publish(session, now=None):
    published = publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN, now=now)
    session.commit()
    return published


@pytest.fixture
def auditor(app):
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=DEPT, scopes=["audit:read"])
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def filled(db_session):
    for n in range(300):
        use(db_session, subject_code=HOLDER if n % 3 == 0 else f"9135010{n:011d}", case_number=f"C-{n}")
    published = _publish(db_session)
    return published


def _verify(client, session, **kwargs):
    key = verifier_key(session=session, origin=ORIGIN)
    source = in_process_source(client)
    # One fetch at a time: the test's sessions share one database connection.
    return verify_log(source=source, verifier_key=key, fetch_threads=1, **kwargs)


def test_checkpoint_and_tiles_follow_tlog_tiles(client, db_session, filled):
    note = client.get("/log/checkpoint").content
    key = verifier_key(session=db_session, origin=ORIGIN)
    checkpoint = Checkpoint.from_note(note, verifiers=[NoteVerifier.from_key_string(key)], origin=ORIGIN)
    assert checkpoint.size == 300 and checkpoint.root_hash == filled.root_hash
    assert len(client.get("/log/tile/0/000").content) == 8192
    assert len(client.get("/log/tile/0/001.p/44").content) == 44 * 32
    assert len(client.get("/log/tile/0/001.p/3").content) == 3 * 32  # older sizes stay served
    assert len(client.get("/log/tile/1/000.p/1").content) == 32
    assert client.get("/log/tile/0/001").status_code == 404  # not full yet
    assert client.get("/log/tile/0/x000/001").status_code == 404  # non-canonical index
    assert client.get("/log/verifier-key").text.strip() == key


def test_entry_bundles_need_audit_scope(client, auditor, filled):
    assert client.get("/log/tile/entries/000").status_code == 401
    assert auditor.get("/log/tile/entries/000").status_code == 200


def test_verifier_accepts_the_log_over_http(auditor, db_session, filled):
    report = _verify(auditor, db_session)
    assert report.size == 300 and report.entries_checked == 300


def test_changed_record_is_detected(auditor, db_session, filled):
    row = db_session.scalar(select(LogEntry).where(LogEntry.leaf_index == 261))
    changed = bytearray(row.entry)
    changed[-3] ^= 0x01
    db_session.execute(update(LogEntry).where(LogEntry.id == row.id).values(entry=bytes(changed)))
    db_session.commit()
    with pytest.raises(LogVerificationError) as failure:
        _verify(auditor, db_session)
    assert failure.value.code == "entry_mismatch" and failure.value.index == 261


def test_deleted_record_is_detected(auditor, db_session, filled):
    db_session.execute(delete(LogEntry).where(LogEntry.leaf_index == 17))
    db_session.commit()
    with pytest.raises(LogVerificationError) as failure:
        _verify(auditor, db_session)
    assert failure.value.code == "entry_mismatch" and failure.value.index == 17


def test_trimmed_tail_is_detected(auditor, db_session, filled):
    db_session.execute(delete(LogEntry).where(LogEntry.leaf_index >= 290))
    db_session.commit()
    with pytest.raises(LogVerificationError) as failure:
        _verify(auditor, db_session)
    assert failure.value.code == "entry_mismatch" and failure.value.index == 290


def test_rewritten_history_is_detected_against_an_earlier_checkpoint(auditor, db_session, filled):
    earlier = auditor.get("/log/checkpoint").content
    # The operator rewrites entry 5, rebuilds every tile and re-signs with the log's own key.
    row = db_session.scalar(select(LogEntry).where(LogEntry.leaf_index == 5))
    db_session.execute(update(LogEntry).where(LogEntry.id == row.id).values(entry=row.entry.replace(b"C-", b"D-")))
    db_session.execute(update(LogEntry).values(leaf_index=None))
    db_session.execute(delete(LogTile))
    db_session.execute(update(LogState).values(size=0, root_hash=b"\0" * 32))
    db_session.commit()
    _publish(db_session)
    assert _verify(auditor, db_session).size == 300  # self-consistent on its own ...
    with pytest.raises(LogVerificationError) as failure:
        _verify(auditor, db_session, since=earlier)  # ... but not with what auditors saw
    assert failure.value.code == "inconsistent_history"


def test_proofs_api(auditor, db_session, filled):
    entry = db_session.scalar(select(LogEntry.entry).where(LogEntry.leaf_index == 200))
    body = auditor.get("/api/v1/audit/proofs/inclusion", params={"index": 200, "size": 300}).json()
    verify_inclusion(leaf=leaf_hash(entry), index=200, size=300,
                     proof=[base64.b64decode(p) for p in body["proof"]], root=filled.root_hash)
    new_root = _publish_sizes(db_session, auditor)
    body = auditor.get("/api/v1/audit/proofs/consistency", params={"old": 300, "new": 301}).json()
    verify_consistency(old_size=300, new_size=301, old_root=filled.root_hash, new_root=new_root,
                       proof=[base64.b64decode(p) for p in body["proof"]])
    assert auditor.get("/api/v1/audit/proofs/inclusion", params={"index": 0, "size": 999}).status_code == 404
    assert auditor.get("/api/v1/audit/proofs/inclusion", params={"index": 300, "size": 300}).status_code == 422


def _publish_sizes(session, client):
    use(session)
    return _publish(session).root_hash


def test_holder_records_carry_inclusion_proofs(db_session, filled):
    use(db_session)  # not yet checkpointed: no proof
    result = records_for_subject(session=db_session, subject_code=HOLDER, tag_key=tag_key(SECRET),
                                 now=datetime.now(UTC), hide_embargoed=True)
    assert result.size == 300 and len(result.records) == 101
    assert result.records[0].proof is None
    for record in result.records[1:]:
        assert record.record["subject"] == HOLDER
        verify_inclusion(leaf=base64.b64decode(record.leaf_hash), index=record.leaf_index, size=300,
                         proof=[base64.b64decode(p) for p in record.proof], root=filled.root_hash)


def test_fail_closed_when_checkpoints_stop(db_session):
    now = datetime(2025, 3, 3, 9, tzinfo=UTC)
    with pytest.raises(LogUnavailable, match="no checkpoint"):
        ensure_log_healthy(session=db_session, now=now, max_lag=timedelta(minutes=5))
    _publish(db_session, now=now)
    ensure_log_healthy(session=db_session, now=now + timedelta(minutes=5), max_lag=timedelta(minutes=5))
    with pytest.raises(LogUnavailable, match="360 s old"):
        ensure_log_healthy(session=db_session, now=now + timedelta(minutes=6), max_lag=timedelta(minutes=5))


def test_health_endpoint_maps_to_503(auditor, db_session):
    response = auditor.get("/api/v1/audit/health")
    assert response.status_code == 503 and response.json()["error"] == "log_unavailable"
    assert auditor.post("/api/v1/audit/checkpoint").status_code == 200
    assert auditor.get("/api/v1/audit/health").status_code == 200


def test_proofs_read_their_tiles_in_one_prefetch_and_verify(db_session, filled):
    entries = db_session.scalars(select(LogEntry.entry).order_by(LogEntry.leaf_index)).all()
    for index in (0, 1, 255, 256, 257, 299):
        body = inclusion(session=db_session, index=index, size=300)
        verify_inclusion(leaf=leaf_hash(entries[index]), index=index, size=300,
                         proof=[base64.b64decode(p) for p in body["proof"]], root=filled.root_hash)
    old_root = root_from_leaf_hashes([leaf_hash(e) for e in entries[:256]])
    body = consistency(session=db_session, old=256, new=300)
    verify_consistency(old_size=256, new_size=300, old_root=old_root, new_root=filled.root_hash,
                       proof=[base64.b64decode(p) for p in body["proof"]])
