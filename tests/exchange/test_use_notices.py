"""The holder's feed of use notices (GET /api/v1/holders/me/use-notices): a
cursor to start from, then each use of their data by others, oldest first;
their own views are not news, and nobody else's uses are ever in it."""

from __future__ import annotations

import pytest

from catalog.access import UseLog, UseRecord
from certhub.settings import Settings
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
