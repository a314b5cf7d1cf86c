"""Read-only work on a real hot standby (storage.units.replicas).

The run makes its own primary and standby (tests/replication.py): a
standby's replay is paused to make it fall behind, so a row written on the
primary is visible there and not on the standby. Reads of the read-only use
cases are served by the standby while it is within the lag bound, writes go
to the primary, and once the standby is further behind than the bound (or
down) the reads go to the primary and see the fresh row.

The lag checks are driven by the tests, on a clock of their own, so that
"within the bound" and "beyond it" do not depend on how fast the machine is.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import InternalError
from sqlalchemy.orm import Session

from certhub.app import create_app
from certhub.db import (
    create_db_engine,
    create_sessionmaker,
    create_standby_engine,
    create_unit_of_work,
    read_only_engine,
    upgrade,
)
from certhub.root import build_root
from storage.cache import InProcessCache
from storage.units import ReadSessions, Standby
from tests.adapters.loopback import closed_port
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    RESIDENCE_PERMIT,
    build_world,
    citizen_id,
    holder_headers,
    publish_log_checkpoint,
    token_headers,
)
from tests.factories.settings import app_settings
from tests.replication import caught_up, pause_replay, replication_available, resume_replay, start_replication

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not replication_available(), reason="needs PostgreSQL 15's initdb and pg_basebackup "
                                                           "(and, as root, a postgres user and runuser)"),
]

MAX_LAG_S = 5.0
ALICE = citizen_id("35010219900101123")


@pytest.fixture(scope="module")
def replication():
    with start_replication() as running:
        engine = create_db_engine(running.primary_url)
        upgrade(engine)
        engine.dispose()
        caught_up(running)
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def primary(replication):
    engine = create_db_engine(replication.primary_url, serve_requests=True)
    yield engine
    engine.dispose()


def _read_sessions(replication, primary, clock, *, standby_url: str | None = None, served: list | None = None):
    return ReadSessions(
        create_sessionmaker(read_only_engine(primary)), primary_engine=primary,
        standbys=[Standby(name="standby", engine=create_standby_engine(standby_url or replication.standby_url))],
        max_lag_s=MAX_LAG_S, check_interval_s=None, clock=clock,
        observe_pool=served.append if served is not None else lambda pool: None)


def _in_recovery(session: Session) -> bool:
    return bool(session.execute(text("SELECT pg_is_in_recovery()")).scalar_one())


def test_an_idle_primary_does_not_make_the_standby_look_behind(replication, primary):
    """The lag is the WAL position's, not the last replayed transaction's
    age: with nothing written for a long while the standby is not behind."""
    clock = Clock()
    sessions = _read_sessions(replication, primary, clock)
    try:
        caught_up(replication)
        for _ in range(3):  # the primary may log a standby snapshot meanwhile (every 15 s): measured again
            sessions.check()
            clock.now += 600  # ten minutes without a write
            sessions.check()
            if sessions.lag("standby") == 0:
                break
            caught_up(replication)
        assert sessions.lag("standby") == 0
        assert sessions.serving() == "standby"
        with sessions() as session:
            assert _in_recovery(session)
    finally:
        sessions.close()


def test_a_standby_behind_the_bound_or_down_is_bypassed(replication, primary):
    clock = Clock()
    sessions = _read_sessions(replication, primary, clock)
    down = _read_sessions(replication, primary, clock, standby_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    marker = f"replica-test-{id(clock)}"
    try:
        with primary.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS replica_markers (name text PRIMARY KEY)"))
        caught_up(replication)
        sessions.check()
        pause_replay(replication)
        try:
            with primary.begin() as connection:
                connection.execute(text("INSERT INTO replica_markers VALUES (:name)"), {"name": marker})
            clock.now += 1
            sessions.check()
            assert 0 < sessions.lag("standby") <= MAX_LAG_S
            with sessions() as session:  # within the bound: the standby, without the new row
                assert _in_recovery(session)
                assert session.execute(text("SELECT count(*) FROM replica_markers WHERE name = :name"),
                                       {"name": marker}).scalar_one() == 0
            clock.now += MAX_LAG_S
            sessions.check()
            assert sessions.lag("standby") > MAX_LAG_S
            with sessions() as session:  # beyond it: the primary, with the row
                assert not _in_recovery(session)
                assert session.execute(text("SELECT count(*) FROM replica_markers WHERE name = :name"),
                                       {"name": marker}).scalar_one() == 1
        finally:
            resume_replay(replication)
        clock.now += 1
        sessions.check()
        assert sessions.lag("standby") == 0 and sessions.serving() == "standby"
        # A measurement ages: not checked for longer than the bound, the standby is not trusted.
        clock.now += MAX_LAG_S + 1
        assert sessions.serving() == "primary"

        down.check()
        assert down.lag("standby") == math.inf and down.serving() == "primary"
    finally:
        sessions.close()
        down.close()


def test_read_only_work_on_the_primary_cannot_write(replication, primary, tmp_path):
    """Reads that fall back to the primary run in read-only transactions:
    work that said it only reads fails if it writes, wherever it runs."""
    root = build_root(app_settings(tmp_path, database_url=replication.primary_url), engine=primary,
                      cache=InProcessCache())
    try:
        assert root.read_sessions.serving() == "primary"  # no standby configured
        with root.read_sessions() as session, pytest.raises(InternalError, match="read-only transaction"):
            session.execute(text("CREATE TABLE never_made (a int)"))
    finally:
        root.read_sessions.close()


def test_standbys_come_from_the_settings_and_are_measured_in_the_background(replication, primary, tmp_path):
    settings = app_settings(tmp_path, database_url=replication.primary_url,
                            database_replica_urls=replication.standby_url,
                            database_replica_max_lag_seconds=30, database_replica_check_seconds=0.1)
    root = build_root(settings, engine=primary, cache=InProcessCache())
    try:
        [standby] = root.read_sessions.standbys
        assert standby.name == replication.standby_url.split("@")[1].split("/")[0]
        assert standby.engine in root.engines()
        caught_up(replication)
        for _ in range(200):
            if root.read_sessions.serving() == standby.name:
                break
            time.sleep(0.05)
        with root.read_sessions() as session:
            assert _in_recovery(session)
        # A use case run by the unit of work declares it only reads; the rest run on the primary.
        units = create_unit_of_work(primary, sessions=root.sessions, read_sessions=root.read_sessions)
        assert units.run_sync(lambda work: _in_recovery(work.session), read_only=True)
        assert not units.run_sync(lambda work: _in_recovery(work.session))
    finally:
        root.read_sessions.close()


def test_the_read_only_use_cases_are_served_by_the_standby_and_fall_back_past_the_bound(replication, primary,
                                                                                       tmp_path):
    clock = Clock()
    served: list[str] = []
    sessions = _read_sessions(replication, primary, clock, served=served)
    app = create_app(app_settings(tmp_path, database_url=replication.primary_url, demo=True), engine=primary,
                     cache=InProcessCache(), read_sessions=sessions)
    with Session(primary) as session:
        build_world(session)
        publish_log_checkpoint(session)
    try:
        with TestClient(app) as client:
            with Session(primary) as session:
                city = token_headers(client, session, CITY_SAMR)
                auditor = token_headers(client, session, CITY_SAMR, scopes=("audit:read",))
            holder = holder_headers(client, code=ALICE)
            first = _permit(client, city)
            caught_up(replication)
            sessions.check()
            pause_replay(replication)
            try:
                second = _permit(client, city)  # a write while the standby is paused: the primary took it

                clock.now += 1
                sessions.check()
                # Within the bound every read-only use case is served by the standby, which has
                # not seen the second permit (and would refuse any write with an error).
                assert _wallet(client, holder) == {first["base_identifier"]}
                reads = {
                    "wallet list": lambda: client.get("/api/v1/holders/me/licences", headers=holder),
                    "wallet expiring": lambda: client.get("/api/v1/holders/me/licences/expiring?days=3660",
                                                          headers=holder),
                    "wallet disputes": lambda: client.get("/api/v1/holders/me/disputes", headers=holder),
                    "public verification": lambda: client.post("/api/v1/verify", json={"qr_text": "not a code"}),
                    "status list": lambda: client.get(urlsplit(first["status_list"]["uri"]).path),
                    "log tile": lambda: client.get("/log/tile/0/000.p/1"),
                    "auditor search": lambda: client.post("/api/v1/audit/records/search", json={"limit": 10},
                                                          headers=auditor),
                    "catalog": lambda: client.get("/api/v1/catalog/departments"),
                }
                for name, read in reads.items():
                    served.clear()
                    response = read()
                    assert response.status_code < 500, (name, response.text)
                    assert served == ["standby"], name
                    assert response.status_code == 200 or (name == "log tile" and response.status_code == 404), \
                        (name, response.text)

                clock.now += MAX_LAG_S
                sessions.check()
                # Beyond it the primary serves, with the second permit.
                served.clear()
                assert _wallet(client, holder) == {first["base_identifier"], second["base_identifier"]}
                assert served == ["primary"]
            finally:
                resume_replay(replication)
            clock.now += 1
            sessions.check()
            served.clear()
            assert _wallet(client, holder) == {first["base_identifier"], second["base_identifier"]}
            assert served == ["standby"]
    finally:
        sessions.close()


def _permit(client, city) -> dict:
    body = {"type_code": RESIDENCE_PERMIT, "holder": {"name": "张三", "code": ALICE, "code_type": "111"},
            "face": {"address": "福州市鼓楼区五四路1号"}, "valid_from": "2025-01-01", "valid_until": "2035-12-31"}
    response = client.post("/api/v1/licences", json=body, headers=city)
    assert response.status_code == 201, response.text
    return response.json()


def _wallet(client, holder) -> set[str]:
    response = client.get("/api/v1/holders/me/licences", headers=holder)
    assert response.status_code == 200, response.text
    return {licence["base_identifier"] for licence in response.json()}
