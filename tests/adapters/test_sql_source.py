"""The SQL source against real databases: a SQLite file, and PostgreSQL
when configured."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy.engine import make_url

from adapters.errors import (
    BindingMismatch,
    CircuitOpen,
    InvalidData,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
    SourceError,
)
from adapters.sources import BindingRegistry, fetch_records
from tests.adapters import loopback
from tests.adapters.databases import BACKENDS, POSTGRES_URL, provider_database
from tests.factories.adapters import HOUSEHOLD_DATA, HOUSEHOLD_FIELDS, person_id

ALICE = person_id("35010219900101123")
BOB = person_id("35020319851231002")


@pytest.fixture(params=BACKENDS)
def department_db(request, tmp_path):
    with provider_database(request.param, tmp_path) as database:
        database.run("CREATE TABLE {schema}.household (id_number VARCHAR(18), xm VARCHAR(50), csrq VARCHAR(10), hjdz VARCHAR(6))")
        database.run(
            "INSERT INTO {schema}.household VALUES (:id, :xm, :csrq, :hjdz)",
            [{"id": ALICE, "xm": "张三丰", "csrq": "1990-01-01", "hjdz": "350102"},
             {"id": BOB, "xm": "李四", "csrq": "1985/12/31", "hjdz": "350203"}],
        )
        yield database


def _registry(database, **overrides) -> BindingRegistry:
    binding = {
        "name": "household",
        "url_env": "POLICE_DB_URL",
        "query": f"SELECT xm, csrq, hjdz FROM {database.table('household')} WHERE id_number = :subject",
        "fields": {"name": "xm", "born": "csrq", "household_region": "hjdz"},
        "statement_timeout": 2,
        "connect_timeout": 2,
    }
    binding.update(overrides)
    return BindingRegistry.from_mapping({"sql": [binding]}, environ={"POLICE_DB_URL": database.url})


@pytest.fixture
def fetch(db_session, adapters_catalog):
    registries = []

    def run(registry, subject=ALICE):
        registries.append(registry)
        return fetch_records(session=db_session, registry=registry, data_item_code=HOUSEHOLD_DATA, subject=subject)

    yield run
    for registry in registries:
        registry.close()


def test_columns_are_mapped_to_catalog_fields(department_db, fetch):
    assert fetch(_registry(department_db)) == [{"name": "张三丰", "born": "1990-01-01", "household_region": "350102"}]
    assert fetch(_registry(department_db), subject=person_id("11010119800101001")) == []


def test_the_subject_is_a_bound_parameter(department_db, fetch):
    # A subject that would break a string-built query is just a value here
    # (it is refused earlier anyway: not a valid 身份证号).
    registry = _registry(department_db)
    source = registry.sql_source("household")
    assert source.fetch_raw("x' OR '1'='1") == []
    registry.close()


def test_mis_typed_rows_are_invalid_data(department_db, fetch):
    with pytest.raises(InvalidData, match="born"):
        fetch(_registry(department_db), subject=BOB)


def test_row_limit(department_db, fetch):
    department_db.run("INSERT INTO {schema}.household VALUES (:id, '王五', '1990-01-01', '350102')", [{"id": ALICE}])
    with pytest.raises(ResponseTooLarge):
        fetch(_registry(department_db, max_rows=1))


def test_a_query_the_schema_no_longer_fits_is_a_malformed_response(department_db, fetch):
    registry = _registry(department_db, query=f"SELECT xm, csrq, hjdz FROM {department_db.table('gone')} WHERE id_number = :subject")
    with pytest.raises(SourceError) as caught:
        fetch(registry)
    assert caught.value.code == "malformed_response"


def test_a_column_the_mapping_names_but_the_query_lacks(department_db, fetch):
    registry = _registry(department_db, query=f"SELECT xm, csrq FROM {department_db.table('household')} WHERE id_number = :subject")
    with pytest.raises(BindingMismatch, match="hjdz"):
        fetch(registry)


def test_a_slow_query_hits_the_statement_timeout(department_db, fetch):
    table = department_db.table("household")
    if department_db.backend == "postgresql":
        query = f"SELECT xm, csrq, hjdz FROM {table}, pg_sleep(0.5) WHERE id_number = :subject"
    else:
        query = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500000000) "
            f"SELECT xm, csrq, hjdz FROM {table}, (SELECT max(x) FROM c) WHERE id_number = :subject"
        )
    with pytest.raises(ProviderTimeout) as caught:
        fetch(_registry(department_db, query=query, statement_timeout=0.1))
    assert caught.value.code == "provider_timeout"


def test_the_source_never_writes(department_db):
    registry = _registry(department_db)
    try:
        # PostgreSQL refuses the write (READ ONLY transaction); elsewhere it is rolled back.
        with registry.sql_source("household").read_only(timeout=1) as connection:
            connection.exec_driver_sql(f"DELETE FROM {department_db.table('household')}")
    except SourceError:
        assert department_db.backend == "postgresql"
    finally:
        registry.close()
    with department_db.engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT count(*) FROM {department_db.table('household')}").scalar() == 2


def test_provider_down_is_provider_unavailable(tmp_path, db_session, adapters_catalog):
    urls = [f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.sqlite3'}"]
    if "postgresql" in BACKENDS:
        urls.append(f"postgresql://postgres@127.0.0.1:{loopback.closed_port()}/police")
    for url in urls:
        registry = BindingRegistry.from_mapping({"sql": [{
            "name": "household", "url": url, "connect_timeout": 1,
            "query": "SELECT xm, csrq, hjdz FROM household WHERE id_number = :subject",
            "fields": {"name": "xm", "born": "csrq", "household_region": "hjdz"}}]}, environ={})
        with pytest.raises(ProviderUnavailable) as caught:
            fetch_records(session=db_session, registry=registry, data_item_code=HOUSEHOLD_DATA, subject=ALICE)
        assert caught.value.code == "provider_unavailable"
        registry.close()


def _stalling_registry(port: int, *, query: str, **overrides) -> BindingRegistry:
    binding = {
        "name": "household", "url": f"postgresql://postgres@127.0.0.1:{port}/police?sslmode=disable", "query": query,
        "fields": {"name": "xm", "born": "csrq", "household_region": "hjdz"},
        "statement_timeout": 30, "connect_timeout": 1, "deadline": 1, "circuit": {"failure_threshold": 2, "cooldown": 60},
    }
    binding.update(overrides)
    return BindingRegistry.from_mapping({"sql": [binding]}, environ={})


# The household data item as a snapshot (what `registry.fetch` takes), so that
# these tests need no catalog database and run once.
HOUSEHOLD_ITEM = SimpleNamespace(code=HOUSEHOLD_DATA, subject_kind="natural_person", fields=tuple(HOUSEHOLD_FIELDS),
                                 adapter_kind="sql", adapter_name="household")


def _fetch_returning(registry, *, within: float = 60):
    """Fetch in a thread, so that a fetch that never returns fails the test
    instead of hanging it; what the fetch raised is returned."""
    outcome: list = []

    def attempt():
        try:
            outcome.append(registry.fetch(data_item=HOUSEHOLD_ITEM, subject=ALICE))
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(within)
    assert outcome, "the fetch never returned"
    return outcome[0]


@pytest.mark.slow
def test_a_database_that_accepts_and_never_answers_times_out_and_opens_the_circuit():
    silent = loopback.StallingProxy()  # a PostgreSQL URL whose server accepts and never says a word
    registry = _stalling_registry(silent.port, query="SELECT xm, csrq, hjdz FROM household WHERE id_number = :subject")
    try:
        failures = [_fetch_returning(registry) for _ in range(2)]
        assert [getattr(f, "code", f) for f in failures] == ["provider_timeout", "provider_timeout"]
        refused = _fetch_returning(registry)
        assert isinstance(refused, CircuitOpen) and refused.code == "circuit_open"
    finally:
        registry.close()
        silent.close()


@pytest.mark.skipif(POSTGRES_URL is None, reason="needs CERTHUB_TEST_DATABASE_URL (a PostgreSQL server to stall)")
def test_a_database_that_stops_answering_mid_session_fails_at_the_deadline(tmp_path):
    with provider_database("postgresql", tmp_path) as database:
        database.run("CREATE TABLE {schema}.household (id_number VARCHAR(18), xm VARCHAR(50), csrq VARCHAR(10), "
                     "hjdz VARCHAR(6))")
        database.run("INSERT INTO {schema}.household VALUES (:id, '张三丰', '1990-01-01', '350102')", [{"id": ALICE}])
        server = make_url(POSTGRES_URL)
        proxy = loopback.StallingProxy((server.host or "127.0.0.1", server.port or 5432))
        url = server.set(host="127.0.0.1", port=proxy.port, query={**server.query, "sslmode": "disable"})
        url = url.render_as_string(hide_password=False)
        query = f"SELECT xm, csrq, hjdz FROM {database.table('household')} WHERE id_number = :subject"
        registry = _stalling_registry(proxy.port, query=query, url=url)
        try:
            assert _fetch_returning(registry)[0]["name"] == "张三丰"  # its connection stays in the pool
            proxy.drop_connections()  # a restart: the pooled connection is dead, a fresh one is tried
            assert _fetch_returning(registry)[0]["name"] == "张三丰"
            proxy.stall()  # the server goes quiet: statement_timeout (30 s) can no longer end anything
            failures = [_fetch_returning(registry) for _ in range(2)]
            assert [getattr(f, "code", f) for f in failures] == ["provider_timeout", "provider_timeout"]
            assert isinstance(_fetch_returning(registry), CircuitOpen)
        finally:
            registry.close()
            proxy.close()
