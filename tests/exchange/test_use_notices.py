"""The holder's feed of use notices (GET /api/v1/holders/me/use-notices): a
cursor to start from, then each use of their data by others, oldest first;
their own views are not news, and nobody else's uses are ever in it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from catalog.access import UseLog, UseRecord
from certhub.settings import Settings
from exchange.auditlog import LogEntry
from tests.factories.licences import REGISTRY_ID, citizen_id, holder_headers, publish_log_checkpoint
from tests.factories.settings import TEST_SECRET

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")
POLICE = "11350100831900827D"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


def _use(app, session, subject: str, *, basis: str = "holder_presentation", kind: str = "redemption") -> None:
    app.state.services.find(UseLog).append(session=session, records=[UseRecord(
        kind=kind, department_code=POLICE, operator_id="clerk-7" if basis != "holder_self" else "holder",
        basis=basis, subject_code=subject, licence_ids=("1.2.156.3005.2.X.Y.00000001.001.K",),
        matter_code="M1", purpose="核验身份")])
    session.flush()


def test_a_first_call_gives_a_cursor_then_each_new_use_by_others(client, app, db_session):
    publish_log_checkpoint(db_session)
    _use(app, db_session, ALICE)  # before the wallet first looked: not news
    alice = holder_headers(client, code=ALICE)
    first = client.get("/api/v1/holders/me/use-notices", headers=alice)
    assert first.status_code == 200, first.text
    assert first.json()["notices"] == []
    cursor = first.json()["cursor"]

    _use(app, db_session, ALICE, basis="holder_self", kind="holder_access")  # her own view
    _use(app, db_session, BOB)  # someone else's data
    _use(app, db_session, ALICE)
    then = client.get(f"/api/v1/holders/me/use-notices?after={cursor}", headers=alice).json()
    [notice] = then["notices"]
    assert notice["department"] == POLICE and notice["kind"] == "redemption" and notice["result"] == "granted"
    assert notice["matter"] == "M1" and notice["licence_ids"] == ["1.2.156.3005.2.X.Y.00000001.001.K"]
    assert then["cursor"] > cursor

    _use(app, db_session, ALICE, basis="holder_self", kind="holder_access")
    quiet = client.get(f"/api/v1/holders/me/use-notices?after={then['cursor']}", headers=alice).json()
    assert quiet["notices"] == [] and quiet["cursor"] > then["cursor"]  # moved past her own view


def test_the_feed_needs_a_holder_and_a_sane_cursor(client, db_session):
    assert client.get("/api/v1/holders/me/use-notices").status_code == 401
    alice = holder_headers(client, code=ALICE)
    assert client.get("/api/v1/holders/me/use-notices?after=-1", headers=alice).status_code == 422


def test_a_use_under_a_covert_mandates_embargo_is_not_told_until_it_ends(client, app, db_session):
    """Records that carry an embargo (the log's covert-mandate records) are left
    out while it lasts; an unreadable one is withheld too (fail closed)."""
    publish_log_checkpoint(db_session)
    alice = holder_headers(client, code=ALICE)
    cursor = client.get("/api/v1/holders/me/use-notices", headers=alice).json()["cursor"]
    for until in ("2999-01-01T00:00:00.000000Z", "not a time", "2000-01-01T00:00:00.000000Z"):
        record = {"time": "2026-12-07T10:00:00.000000Z", "kind": "query", "department": POLICE, "result": "granted",
                  "licence_ids": [], "data_items": ["102/000001"], "matter": None, "purpose": "侦查",
                  "basis": "supervision_mandate", "embargo_until": until}
        db_session.add(LogEntry(recorded_at=datetime.now(UTC), kind="query", department_code=POLICE,
                                operator_id="officer-1", subject_code=ALICE, basis="supervision_mandate",
                                result="granted", entry=json.dumps(record).encode()))
    db_session.flush()
    answer = client.get(f"/api/v1/holders/me/use-notices?after={cursor}", headers=alice).json()
    assert [n["purpose"] for n in answer["notices"]] == ["侦查"]  # only the one whose embargo has ended
    assert answer["cursor"] > cursor
