"""Streaming export: JSON lines with proofs over a few thousand records,
bounded by filters, through the API and the CLI."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalog.access import UseRecord
from certhub.cli import app as cli_app
from certhub.db import create_db_engine, upgrade
from exchange.auditlog import insert_pending, publish_checkpoint
from exchange.auditlog.errors import InvalidQuery
from exchange.auditlog.search import EXPORT_CHUNK, SearchFilter, export_lines
from identity.tokens import TokenAuthority
from signing.canonical import canonical_json
from signing.transparency import Checkpoint, NoteVerifier, leaf_hash, verify_inclusion
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import DEPT, HOLDER, ORIGIN, OTHER_DEPT, SECRET, at, use

COUNT = 2600  # more than five export batches
USE = {"kind": "department_query", "operator_id": "clerk-7", "basis": "holder_presentation", "subject_code": HOLDER,
       "fields": ["姓名", "holder_code"], "matter_code": "350100-0001", "purpose": "办理营业执照变更", "request_hash": "ab" * 32}
SOME = 600


@pytest.fixture
def auditor(app):
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=DEPT, scopes=["audit:read"])
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _fill(session, count: int) -> None:
    for n in range(count):  # a second apart: one call each, as one call writes its records at one time
        record = UseRecord(**USE, department_code=OTHER_DEPT if n % 10 == 0 else DEPT, case_number=f"C-{n}")
        insert_pending(session=session, records=[record], now=at(1) + timedelta(seconds=n))
    publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN)
    use(session, now=at(9), case_number="after-the-checkpoint")  # not provable yet
    session.commit()


@pytest.fixture
def many(db_session):
    _fill(db_session, COUNT)


@pytest.fixture
def some(db_session):
    _fill(db_session, SOME)


def _check_lines(lines: list[str], key: str, *, expected: int) -> list[dict]:
    header, *records, end = (json.loads(line) for line in lines)
    checkpoint = Checkpoint.from_note(header["checkpoint"].encode(), verifiers=[NoteVerifier.from_key_string(key)])
    assert header["size"] == checkpoint.size
    assert end == {"end": {"records": expected, "truncated": False}}
    assert len(records) == expected
    for item in records:
        # The record shown is the logged leaf: its canonical bytes hash to the leaf hash ...
        leaf = leaf_hash(canonical_json(item["record"]))
        assert base64.b64encode(leaf).decode() == item["leaf_hash"]
        if item["proof"] is None:
            assert item["index"] is None or item["index"] >= checkpoint.size
            continue
        # ... and the leaf is in the signed tree.
        verify_inclusion(leaf=leaf, index=item["index"], size=checkpoint.size,
                         proof=[base64.b64decode(node) for node in item["proof"]], root=checkpoint.root_hash)
    indices = [item["index"] for item in records if item["index"] is not None]
    assert indices == sorted(indices)  # oldest first
    return records


@pytest.mark.slow
def test_api_streams_every_record_with_a_proof(auditor, many):
    key = auditor.get("/log/verifier-key").text.strip()
    params = {"since": at(0).isoformat(), "until": at(23).isoformat()}
    with auditor.stream("POST", "/api/v1/audit/export", json=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = list(response.iter_lines())
    records = _check_lines(lines, key, expected=COUNT + 1)
    assert sum(item["proof"] is not None for item in records) == COUNT
    assert records[-1]["record"]["case_number"] == "after-the-checkpoint" and records[-1]["proof"] is None


@pytest.mark.slow
def test_filters_bound_the_export(auditor, some):
    key = auditor.get("/log/verifier-key").text.strip()
    params = {"since": at(0).isoformat(), "until": at(23).isoformat(), "department": OTHER_DEPT}
    lines = auditor.post("/api/v1/audit/export", json=params).text.splitlines()
    records = _check_lines(lines, key, expected=SOME // 10)
    assert {item["record"]["department"] for item in records} == {OTHER_DEPT}
    window = {"since": at(1).isoformat(), "until": (at(1) + timedelta(seconds=100)).isoformat()}
    assert len(auditor.post("/api/v1/audit/export", json=window).text.splitlines()) == 100 + 2


@pytest.mark.slow
def test_limit_truncates_and_says_so(auditor, some):
    params = {"since": at(0).isoformat(), "until": at(23).isoformat(), "limit": EXPORT_CHUNK + 7}
    lines = auditor.post("/api/v1/audit/export", json=params).text.splitlines()
    assert len(lines) == EXPORT_CHUNK + 7 + 2
    assert json.loads(lines[-1]) == {"end": {"records": EXPORT_CHUNK + 7, "truncated": True}}


def test_unbounded_exports_are_refused(auditor):
    assert auditor.post("/api/v1/audit/export", json={}).status_code == 422
    assert auditor.post("/api/v1/audit/export", json={"department": DEPT}).status_code == 422
    too_long = {"since": at(0).isoformat(), "until": (at(0) + timedelta(days=93)).isoformat()}
    assert auditor.post("/api/v1/audit/export", json=too_long).json()["error"] == "invalid_query"
    naive = {"since": "2025-03-03T00:00:00", "until": "2025-03-04T00:00:00"}
    assert auditor.post("/api/v1/audit/export", json=naive).status_code == 422
    assert auditor.post("/api/v1/audit/export", json={"subject": HOLDER, "limit": 0}).status_code == 422


def test_export_needs_audit_scope(client):
    assert client.post("/api/v1/audit/export", json={"subject": HOLDER}).status_code == 401


@pytest.mark.slow
def test_export_lines_is_lazy_and_checks_bounds_first(db_session, some):
    with pytest.raises(InvalidQuery):
        export_lines(session=db_session, filters=SearchFilter())
    lines = export_lines(session=db_session, filters=SearchFilter(subject=HOLDER))
    assert isinstance(lines, Iterator)
    first, second = next(lines), next(lines)
    assert json.loads(first)["size"] == SOME and json.loads(second)["index"] == 0
    lines.close()  # releases the open result


@pytest.mark.slow
def test_cli_export_streams_to_a_file(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.connect() as connection:
        from sqlalchemy.orm import Session

        with Session(bind=connection) as session:
            _fill(session, 1200)
        connection.commit()
    engine.dispose()
    monkeypatch.setenv("CERTHUB_DATABASE_URL", url)
    monkeypatch.setenv("CERTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CERTHUB_REGISTRY_ID", "https://registry.test")
    runner = CliRunner()
    out = tmp_path / "export.jsonl"
    result = runner.invoke(cli_app, ["audit", "export", "--since", "2025-03-03T00:00:00Z",
                                     "--until", "2025-03-04T00:00:00+08:00", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    # until 2025-03-04T00:00+08:00 is 16:00 UTC on the 3rd: all 1200 records and the later one.
    assert len(lines) == 1200 + 3 and json.loads(lines[-1])["end"]["records"] == 1200 + 1
    key = runner.invoke(cli_app, ["audit", "checkpoint"]).stderr.split("verifier key: ")[1].strip()
    _check_lines(lines, key, expected=1200 + 1)
    for bad in (["audit", "export"], ["audit", "export", "--since", "2025-03-03T00:00:00", "--until", "x"],
                ["audit", "export", "--since", "2025-03-03T00:00:00Z", "--until", "2025-09-03T00:00:00Z"]):
        assert runner.invoke(cli_app, bad).exit_code == 2, bad


@pytest.mark.slow
def test_the_export_is_gzipped_chunk_by_chunk_as_it_streams(auditor, many):
    """certhub.compression: the stream is compressed and flushed per chunk, never buffered whole."""
    params = {"since": at(0).isoformat(), "until": at(23).isoformat()}
    with auditor.stream("POST", "/api/v1/audit/export", json=params, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        pieces = list(response.iter_raw())
    assert len(pieces) > 1  # each ~64 KiB chunk arrives compressed on its own
    lines = zlib.decompress(b"".join(pieces), 16 + zlib.MAX_WBITS).decode().splitlines()
    assert json.loads(lines[-1]) == {"end": {"records": COUNT + 1, "truncated": False}}
    assert len(b"".join(pieces)) < len("\n".join(lines)) / 3
