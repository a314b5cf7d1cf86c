"""Auditor API and CLI: search, statistics, anomaly flags, export."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from certhub.cli import app as cli_app
from certhub.db import create_db_engine, upgrade
from exchange.auditlog import publish_checkpoint
from exchange.auditlog.search import AnomalyThresholds, anomalies
from identity.tokens import TokenAuthority
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import DEPT, HOLDER, ORIGIN, OTHER_DEPT, SECRET, at, use

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


@pytest.fixture
def auditor(app):
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=DEPT, scopes=["audit:read"])
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def recorded(db_session):
    use(db_session, now=at(2))  # 10:00 Shanghai, Monday
    use(db_session, now=at(3), department_code=OTHER_DEPT, matter_code=None)  # no matter
    use(db_session, now=at(14))  # 22:00 Shanghai: off hours
    for n in range(5):
        use(db_session, now=at(4, n), result="denied", reason_code="no_consent", fields=[], operator_id="clerk-9")
    for n in range(4):
        use(db_session, now=at(5, n), subject_code=f"91350100MA{n:08d}", operator_id="clerk-8")
    publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)
    db_session.commit()


def test_search_filters_and_pages(auditor, recorded):
    page = auditor.post("/api/v1/audit/records/search", json={"subject": HOLDER, "limit": 3}).json()
    assert len(page["records"]) == 3 and page["next"] is not None
    assert all(record["proof"] for record in page["records"])
    rest = auditor.post("/api/v1/audit/records/search", json={"subject": HOLDER, "before_id": page["next"]}).json()
    assert len(rest["records"]) == 5 and rest["next"] is None
    other = auditor.post("/api/v1/audit/records/search", json={"department": OTHER_DEPT}).json()
    assert [r["record"]["department"] for r in other["records"]] == [OTHER_DEPT]
    assert auditor.post("/api/v1/audit/records/search", json={"limit": 501}).status_code == 422


def test_a_holders_records_are_asked_for_in_the_body(auditor, recorded):
    answer = auditor.post("/api/v1/audit/subjects/records", json={"subject": HOLDER})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["records"]) == 8 and {r["record"]["subject"] for r in answer.json()["records"]} == {HOLDER}
    assert auditor.post("/api/v1/audit/subjects/records", json={"subject": ""}).status_code == 422


def test_no_route_takes_a_subject_in_the_url(auditor, recorded):
    # By the time a route could refuse it, the URL is in the access log: none answers one.
    assert auditor.get(f"/api/v1/audit/subjects/{HOLDER}/records").status_code == 404
    assert auditor.get("/api/v1/audit/records", params={"subject": HOLDER}).status_code == 404
    assert auditor.get("/api/v1/audit/records/search", params={"subject": HOLDER}).status_code == 405
    assert auditor.get("/api/v1/audit/export", params={"subject": HOLDER}).status_code == 405


def test_search_needs_audit_scope(client, app, recorded):
    token = app.state.services.find(TokenAuthority).issue(client_id="c", department_code=DEPT, scopes=["exchange:query"])
    response = client.post("/api/v1/audit/records/search", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_statistics(auditor, recorded):
    params = {"since": at(0).isoformat(), "until": at(23).isoformat()}
    stats = auditor.get("/api/v1/audit/stats", params=params).json()
    assert stats["by_department"][DEPT] == {"granted": 6, "denied": 5}
    assert stats["by_day"] == {"2025-03-03": {"granted": 7, "denied": 5}}  # 22:00 Shanghai is still the 3rd


def test_anomaly_flags(db_session, recorded):
    thresholds = AnomalyThresholds(max_subjects=3, subjects_window=timedelta(minutes=5), max_denials=5)
    flags = anomalies(session=db_session, since=at(0), until=at(23), thresholds=thresholds)["flags"]
    kinds = {(flag["flag"], flag["operator"]) for flag in flags}
    assert ("no_matter", "clerk-7") in kinds
    assert ("off_hours", "clerk-7") in kinds
    assert ("repeated_denials", "clerk-9") in kinds
    assert ("many_subjects", "clerk-8") in kinds
    assert sum(flag["flag"] == "off_hours" for flag in flags) == 1


def test_export_carries_proofs(auditor, recorded):
    lines = auditor.post("/api/v1/audit/export", json={"subject": HOLDER}).text.splitlines()
    header = json.loads(lines[0])
    assert header["size"] == 12 and header["checkpoint"].startswith(ORIGIN)
    records = [json.loads(line) for line in lines[1:-1]]
    assert len(records) == 8 and all(record["proof"] is not None for record in records)
    assert json.loads(lines[-1]) == {"end": {"records": 8, "truncated": False}}


def test_cli_checkpoint_and_export(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(create_db_engine(url))
    monkeypatch.setenv("CERTHUB_DATABASE_URL", url)
    monkeypatch.setenv("CERTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CERTHUB_REGISTRY_ID", "https://registry.test")
    runner = CliRunner()
    published = runner.invoke(cli_app, ["audit", "checkpoint"])
    assert published.exit_code == 0, published.output
    assert published.stdout.startswith(ORIGIN + "\n0\n")
    exported = runner.invoke(cli_app, ["audit", "export", "--subject", HOLDER])
    assert exported.exit_code == 0 and json.loads(exported.stdout.splitlines()[0])["size"] == 0


def test_a_department_counts_only_its_own_uses(app, recorded):
    """An officer's console reads its own department's figures (usage:read); the department is the caller's."""
    authority = app.state.services.find(TokenAuthority)
    params = {"since": at(0).isoformat(), "until": at(23).isoformat()}
    officer = authority.issue(client_id="officer-1", department_code=DEPT, scopes=["usage:read"])
    with TestClient(app, headers={"Authorization": f"Bearer {officer}"}) as client:
        stats = client.get("/api/v1/usage/stats", params=params).json()
        assert stats["department"] == DEPT
        assert stats["totals"] == {"granted": 6, "denied": 5}
        assert stats["by_day"] == {"2025-03-03": {"granted": 6, "denied": 5}}
        assert sum(sum(counts.values()) for counts in stats["by_matter"].values()) == 11
        # A department parameter is not a way to read another's figures: it is ignored.
        other = client.get("/api/v1/usage/stats", params={**params, "department": OTHER_DEPT}).json()
        assert other["department"] == DEPT and other["totals"] == stats["totals"]
        assert client.get("/api/v1/usage/stats", params={**params, "until": at(0).isoformat()}).status_code == 422
    neighbour = authority.issue(client_id="officer-2", department_code=OTHER_DEPT, scopes=["usage:read"])
    answer = TestClient(app).get("/api/v1/usage/stats", params=params, headers={"Authorization": f"Bearer {neighbour}"})
    assert answer.json()["totals"] == {"granted": 1}
    clerk = authority.issue(client_id="clerk-1", department_code=DEPT, scopes=["exchange:query"])
    answer = TestClient(app).get("/api/v1/usage/stats", params=params, headers={"Authorization": f"Bearer {clerk}"})
    assert answer.status_code == 403
