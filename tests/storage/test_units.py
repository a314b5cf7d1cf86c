"""The unit-of-work contract (storage.units), run against both drivers:
SQLite, and PostgreSQL both in a worker thread and on the event loop.

Each driver gets a database of its own with the work committed in it (other
connections must see what a unit committed)."""

from __future__ import annotations

import asyncio
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import quote

import anyio
import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, exc, insert, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry, sessionmaker
from sqlalchemy.pool import NullPool

from certhub.db import create_db_engine, upgrade
from storage.units import (
    JsonText,
    PostgreSQLStatements,
    PostgreSQLUnitOfWork,
    SQLiteStatements,
    SQLiteUnitOfWork,
    UnitOfWork,
    Work,
    any_of,
    bounded,
    insert_many,
    statements_for,
)
from storage.units.threads import SHORT_WORK_THREADS
from tests.environment import DATABASE_BACKENDS, POSTGRES_URL, engine_on_schema

metadata = MetaData()
things = Table(
    "unit_things", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), unique=True, nullable=False),
    Column("terms", JSON),
)
counters = Table("unit_counters", metadata, Column("id", Integer, primary_key=True), Column("value", Integer))
mapped = registry(metadata=metadata)


@mapped.mapped
class _Thing:
    """A row written through the ORM: flushed only when the unit commits."""

    __table__ = things

    def __init__(self, *, code: str) -> None:
        self.code = code


class Driver:
    """A driver under test, the engine of its database, and how to run a unit."""

    def __init__(self, units: UnitOfWork, engine, *, each_write_stands_alone: bool) -> None:
        self.units, self.engine, self.each_write_stands_alone = units, engine, each_write_stands_alone

    def run(self, work, *, calls_out: bool = False):
        async def main():
            return await self.units.run(work, calls_out=calls_out,
                                        each_write_stands_alone=self.each_write_stands_alone)

        return asyncio.run(main())

    def codes(self) -> list[str]:
        with self.engine.connect() as connection:
            return sorted(connection.execute(select(things.c.code)).scalars())


# The backends the run has, like every database test (tests/environment.py): PostgreSQL when its URL is set.
@pytest.fixture(scope="module", params=DATABASE_BACKENDS)
def database(request, tmp_path_factory):
    if request.param == "sqlite":
        # SQLite's deferred BEGIN (certhub.db): the write lock is the unit's to take.
        engine = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('units') / 'units.sqlite3'}")
        upgrade(engine)
        metadata.create_all(engine)
        yield "sqlite", engine, None
        engine.dispose()
        return
    schema = f"certhub_test_units_{secrets.token_hex(3)}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = engine_on_schema(POSTGRES_URL, schema)
    metadata.create_all(engine)
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        yield "postgresql", engine, url
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["in a transaction", "each write alone"])
def driver(request, database):
    with _driver_on(database, alone=request.param == "each write alone") as built:
        yield built


@pytest.fixture
def transactional_driver(database):
    """For what only a unit in a transaction does (several statements, the short-work bound)."""
    with _driver_on(database, alone=False) as built:
        yield built


@contextmanager
def _driver_on(database, *, alone: bool):
    name, engine, url = database
    with engine.begin() as connection:
        connection.execute(things.delete())
        connection.execute(counters.delete())
        connection.execute(insert(counters), [{"id": 1, "value": 0}])
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    if name == "sqlite":
        yield Driver(SQLiteUnitOfWork(sessions), engine, each_write_stands_alone=alone)
        return
    # The query engine as certhub.db builds it, without a pool: each test runs its own event loop.
    query_engine = create_async_engine(url.replace("postgresql://", "postgresql+psycopg_async://", 1),
                                       isolation_level="AUTOCOMMIT", poolclass=NullPool)
    calls = ThreadPoolExecutor(max_workers=2, thread_name_prefix="unit-calls")
    units = PostgreSQLUnitOfWork(sessions, loop_sessions=async_sessionmaker(query_engine, expire_on_commit=False),
                                 calls=lambda: calls)
    try:
        yield Driver(units, engine, each_write_stands_alone=alone)
    finally:
        calls.shutdown()
        asyncio.run(query_engine.dispose())


def _add(work: Work, code: str) -> None:
    work.session.execute(insert(things).values(code=code))


def test_a_unit_that_returns_is_committed(driver):
    def work(unit: Work) -> str:
        _add(unit, "A1")
        return "done"

    assert driver.run(work) == "done"
    assert driver.codes() == ["A1"]


def test_a_unit_that_raises_is_rolled_back_and_its_undo_steps_run(driver):
    undone: list[str] = []

    def work(unit: Work) -> None:
        unit.if_not_committed(lambda: undone.append("claim given back"))
        # Written in the one statement a unit whose writes stand alone may make:
        # such a unit's error undoes no statement already written.
        if not driver.each_write_stands_alone:
            _add(unit, "B1")
        raise LookupError("refused")

    with pytest.raises(LookupError):
        driver.run(work)
    assert driver.codes() == []
    assert undone == ["claim given back"]


def test_a_commit_that_fails_runs_the_undo_steps(transactional_driver):
    undone: list[str] = []

    def work(unit: Work) -> None:
        unit.if_not_committed(lambda: undone.append("claim given back"))
        _add(unit, "C1")
        # Left for the commit to send: the second row breaks the unique code.
        unit.session.add_all([_Thing(code="C2"), _Thing(code="C2")])

    with pytest.raises(exc.IntegrityError):
        transactional_driver.run(work)
    assert undone == ["claim given back"]
    assert transactional_driver.codes() == []


def test_nothing_is_undone_after_a_commit(driver):
    undone: list[str] = []

    def work(unit: Work) -> None:
        unit.if_not_committed(lambda: undone.append("claim given back"))
        _add(unit, "D1")

    driver.run(work)
    assert undone == [] and driver.codes() == ["D1"]


def test_offload_calls_out_holding_no_transaction_and_what_came_before_is_committed(driver):
    seen: dict = {}
    units: list[Work] = []

    def provider_call(subject: str) -> str:
        seen["in_transaction"] = units[0].session.in_transaction()
        seen["thread"] = threading.current_thread().name
        seen["codes"] = driver.codes()  # another connection sees what the unit wrote before
        return f"record of {subject}"

    def work(unit: Work) -> str:
        units.append(unit)
        if not driver.each_write_stands_alone:
            _add(unit, "E1")
        answer = unit.offload(provider_call, "91350102MA8XYW1234")
        _add(unit, "E2")
        return answer

    assert driver.run(work, calls_out=True) == "record of 91350102MA8XYW1234"
    assert seen["in_transaction"] is False
    assert seen["codes"] == ([] if driver.each_write_stands_alone else ["E1"])
    assert driver.codes() == (["E2"] if driver.each_write_stands_alone else ["E1", "E2"])
    assert seen["thread"] != "MainThread"  # never on the event loop's thread


def test_only_the_loop_driver_says_it_runs_on_the_event_loop(driver, database):
    def work(unit: Work) -> tuple[bool, str]:
        return unit.on_event_loop, threading.current_thread().name

    on_loop, thread = driver.run(work)
    assert on_loop is (database[0] == "postgresql" and driver.each_write_stands_alone)
    assert (thread == "MainThread") is on_loop  # asyncio.run's loop runs on this thread


def test_the_write_lock_and_a_row_lock_serialise_two_read_modify_writes(driver):
    first_read, second_started = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def increment(unit: Work, *, first: bool) -> None:
        if not first:
            second_started.set()
        unit.write_lock()
        value = unit.session.execute(select(counters.c.value).where(counters.c.id == 1).with_for_update()).scalar()
        if first:
            first_read.set()
            second_started.wait(5)
            # The second unit is now waiting for the lock (or, without one,
            # reading the same value: its write would be lost or refused).
            threading.Event().wait(0.2)
        unit.session.execute(update(counters).where(counters.c.id == 1).values(value=value + 1))

    def in_thread(first: bool) -> None:
        try:
            driver.units.run_sync(lambda unit: increment(unit, first=first))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    one = threading.Thread(target=in_thread, args=(True,))
    one.start()
    first_read.wait(5)
    two = threading.Thread(target=in_thread, args=(False,))
    two.start()
    one.join(10), two.join(10)
    assert failures == []
    with driver.engine.connect() as connection:
        assert connection.execute(select(counters.c.value)).scalar() == 2


def test_insert_many_inserts_every_row_json_text_included(driver):
    rows = [{"id": n, "code": f"F{n}", "terms": JsonText(f'{{"fields":["名称"],"n":{n}}}') if n % 2 else {"n": n}}
            for n in range(1, 101)]
    driver.units.run_sync(lambda unit: unit.insert_many(things, rows))
    with driver.engine.connect() as connection:
        stored = connection.execute(select(things.c.id, things.c.terms).order_by(things.c.id)).all()
    assert [row.id for row in stored] == list(range(1, 101))
    assert stored[0].terms == {"fields": ["名称"], "n": 1} and stored[1].terms == {"n": 2}


def test_the_plain_session_forms_are_the_database_s(driver, database):
    with sessionmaker(bind=driver.engine)() as session:
        insert_many(session=session, table=things, rows=[{"id": 7, "code": "G7", "terms": None}, {"id": 8, "code": "G8", "terms": None}])
        assert session.execute(select(things.c.code).where(any_of(session=session, column=things.c.id, values=[8, 9], name="ids"))).scalars().all() \
            == ["G8"]
        expected = SQLiteStatements if database[0] == "sqlite" else PostgreSQLStatements
        assert isinstance(statements_for(session), expected)


def test_a_bounded_session_gives_up_waiting_for_a_lock(driver):
    sessions = sessionmaker(bind=driver.engine)
    with sessions() as holder:
        holder.connection()
        statements_for(holder).write_lock(session=holder)
        holder.execute(select(counters.c.value).where(counters.c.id == 1).with_for_update())
        holder.execute(update(counters).where(counters.c.id == 1).values(value=5))
        with pytest.raises(exc.DBAPIError), bounded(sessions, lock_timeout_s=0.2, statement_timeout_s=5) as session:
            statements_for(session).write_lock(session=session)
            session.execute(select(counters.c.value).where(counters.c.id == 1).with_for_update())
            session.execute(update(counters).where(counters.c.id == 1).values(value=6))
        holder.rollback()


def test_short_work_never_runs_more_at_once_than_its_pool_allows(transactional_driver):
    lock = threading.Lock()
    running = {"now": 0, "most": 0}

    def work(_unit: Work) -> None:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        threading.Event().wait(0.05)
        with lock:
            running["now"] -= 1

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(SHORT_WORK_THREADS * 3):
                group.start_soon(transactional_driver.units.run, work)

    asyncio.run(main())
    assert running["most"] == SHORT_WORK_THREADS


def test_each_event_loop_gets_its_own_short_work_pool(transactional_driver):
    # A pool belongs to the loop it waits on; tests run an app on more than one.
    assert transactional_driver.run(lambda unit: "first") == "first"
    assert transactional_driver.run(lambda unit: "second") == "second"
