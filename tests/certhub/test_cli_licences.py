"""`certhub licences` as an operator runs it: real settings from the
environment, a real SQLite file in a temporary directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from certhub.cli import app
from certhub.db import create_db_engine, create_sessionmaker
from registry.service import disputes, issue, reads
from registry.service.authority import Actor
from tests.factories.catalog import CITY_SAMR, PROVINCE_SAMR
from tests.factories.licences import KEY_SECRET, REGISTRY_ID, RESIDENCE_PERMIT, build_world, citizen_id
from tests.factories.settings import TEST_SECRET

pytestmark = pytest.mark.slow  # a migrated database of its own per test

runner = CliRunner()
ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An upgraded SQLite registry with licences ending in 10 days, 60 days and never."""
    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CERTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTHUB_DEMO", raising=False)
    assert run("db", "upgrade").exit_code == 0
    engine = create_db_engine(f"sqlite:///{(tmp_path / 'certhub.sqlite3').resolve()}")
    today = datetime.now(UTC).date()
    made = {}
    try:
        with create_sessionmaker(engine)() as session:
            build_world(session)
            signer = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
            for key, holder, name, days in (("alice_soon", ALICE, "张三丰", 10), ("bob_soon", BOB, "李四", 20),
                                            ("alice_later", ALICE, "张三丰", 60)):
                request = issue.IssueRequest(
                    type_code=RESIDENCE_PERMIT, holder_name=name, holder_code=holder, holder_code_type="111",
                    face={"address": "福州"}, valid_from=today - timedelta(days=300),
                    valid_until=today + timedelta(days=days))
                made[key] = issue.issue(session=session, actor=Actor(department_code=CITY_SAMR), request=request,
                                        signer=signer).base_identifier
            session.commit()
    finally:
        engine.dispose()
    return tmp_path, made


def test_expiring_per_department_masks_holder_names(registry):
    _path, made = registry
    result = run("licences", "expiring", "--days", "30", "--department", CITY_SAMR)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split()[1] for line in lines[:-1]] == [made["alice_soon"], made["bob_soon"]]
    assert "张*丰" in result.output and "张三丰" not in result.output and "李*" in result.output
    assert lines[-1] == "2 licence(s) expire within 30 day(s)"
    wider = run("licences", "expiring", "--days", "90", "-i", CITY_SAMR)
    assert "3 licence(s)" in wider.output
    assert "0 licence(s)" in run("licences", "expiring", "--department", PROVINCE_SAMR).output


def test_expiring_per_holder(registry):
    _path, made = registry
    result = run("licences", "expiring", "--days", "90", "--holder", ALICE)
    assert result.exit_code == 0, result.output
    assert made["alice_soon"] in result.output and made["alice_later"] in result.output
    assert made["bob_soon"] not in result.output and ALICE not in result.output
    both = run("licences", "expiring", "--days", "30", "--holder", BOB, "--department", CITY_SAMR)
    assert made["bob_soon"] in both.output and "1 licence(s)" in both.output


def test_expiring_needs_a_department_or_a_holder(registry):
    result = run("licences", "expiring", "--days", "30")
    assert result.exit_code == 2 and "--holder" in result.output
    assert run("licences", "expiring", "--days", "-1", "--holder", ALICE).exit_code == 2


def test_disputes_lists_overdue_ones(registry):
    path, made = registry
    engine = create_db_engine(f"sqlite:///{(path / 'certhub.sqlite3').resolve()}")
    try:
        with create_sessionmaker(engine)() as session:
            licence = reads.list_for_holder(session=session, holder_code=BOB)[0]
            view = reads.get_or_raise(session=session, identifier=licence.versions[0].identifier)
            old = disputes.open_dispute(
                session=session,
                view=view,
                disputer=disputes.Disputer.holder(BOB),
                field="address",
                reason="地址不对",
                now=datetime.now(UTC) - timedelta(days=30),
            )
            disputes.open_dispute(session=session, view=view, disputer=disputes.Disputer.holder(BOB), field="moved_in",
                                  reason="日期不对")
            session.commit()
    finally:
        engine.dispose()
    overdue = run("licences", "disputes", "-d", CITY_SAMR, "--status", "overdue")
    assert overdue.exit_code == 0, overdue.output
    assert f"#{old.id} " in overdue.output and "OVERDUE" in overdue.output and made["bob_soon"] in overdue.output
    assert "1 dispute(s) overdue" in overdue.output
    assert "2 dispute(s) open" in run("licences", "disputes", "-d", CITY_SAMR).output
    assert run("licences", "disputes", "-d", CITY_SAMR, "--status", "lost").exit_code == 2
