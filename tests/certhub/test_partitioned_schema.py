"""Migration 0027: a registry populated through the app at the revision before it is
partitioned on PostgreSQL with every row, every uniqueness guarantee and the
app's behaviour kept, holder lookups read one partition, and the downgrade
gives the plain tables back. SQLite stays unpartitioned.

The partitioning is PostgreSQL's: its tests skip without
CERTHUB_TEST_DATABASE_URL (the SQLite test below runs always)."""

from __future__ import annotations

import json
import os
import secrets
import threading

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import sessionmaker

from catalog.access import UseRecord
from certhub.app import create_app
from certhub.db import alembic_config, create_db_engine, upgrade
from certhub.settings import Settings
from exchange.auditlog import insert_pending
from storage.base import utcnow
from storage.cache import InProcessCache
from tests.environment import POSTGRES_URL, engine_on_new_schema
from tests.factories.licences import REGISTRY_ID, citizen_id
from tests.factories.presentations import build, publish_log, residence_body
from tests.factories.settings import TEST_SECRET

postgres_only = pytest.mark.skipif(POSTGRES_URL is None, reason="partitioning is PostgreSQL's: "
                                   "set CERTHUB_TEST_DATABASE_URL (SQLite is covered by the test that it stays plain)")

PARTITIONED = {"registry_licences": "h", "registry_licence_versions": "h", "registry_presentations": "h",
               "auditlog_entries": "r"}
SNAPSHOT_TABLES = ["registry_licences", "registry_licence_versions", "registry_licence_events",
                   "registry_presentations", "registry_redemptions", "auditlog_entries", "registry_idempotency_keys"]
HOLDERS = [citizen_id(f"35010219900101{n:03d}") for n in range(8)]


@pytest.fixture
def own_schema():
    """An empty PostgreSQL schema of the test's own (the test commits; the migrations are what is tested)."""
    schema = f"certhub_partitions_{os.getpid()}_{secrets.token_hex(3)}"
    engine = engine_on_new_schema(schema)
    yield engine
    engine.dispose()
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _revision_before_partitioning() -> str:
    """The plain schema 0027 starts from: whatever revision it follows, so the test keeps up as migrations land before it."""
    config = alembic_config("sqlite://")
    before = ScriptDirectory.from_config(config).get_revision("0027").down_revision
    assert isinstance(before, str)
    return before


def _migrate(engine: Engine, verb: str, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in SNAPSHOT_TABLES}


def _strategies(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT c.relname, p.partstrat FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace")).all()
    return {str(row[0]): str(row[1]) for row in rows}


def _shape(engine: Engine) -> set[tuple[str, str, str]]:
    """Every constraint and index of the schema, by table, as PostgreSQL defines them."""
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar()
        constraints = connection.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE connamespace = current_schema()::regnamespace")).all()
        indexes = connection.execute(text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")).all()
    return {(str(table), str(name), str(definition).replace(f"{schema}.", ""))
            for table, name, definition in [*constraints, *indexes]}


def _relations_read(connection, query: str, params: dict) -> set[str]:
    """The tables and partitions the plan of ``query`` reads (EXPLAIN, not run)."""
    [[plan]] = connection.execute(text(f"EXPLAIN (FORMAT JSON) {query}"), params).all()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    found: set[str] = set()

    def walk(node: dict) -> None:
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def _refused(connection, constraint: str, statement: str, params: dict | None = None) -> None:
    with pytest.raises(IntegrityError, match=constraint), connection.begin_nested():
        connection.execute(text(statement), params or {})


_COPY_LICENCE = (
    "INSERT INTO registry_licences (base_identifier, type_code, type_version, issuer_code, serial, holder_name,"
    " holder_code, holder_code_type, status, current_version, valid_from, valid_until, status_list_id, status_index,"
    " issued_at, updated_at) SELECT {base}, type_code, type_version, issuer_code, {serial}, holder_name, :holder,"
    " holder_code_type, status, current_version, valid_from, valid_until, status_list_id, {index}, issued_at,"
    " updated_at FROM registry_licences WHERE id = :id"
)


def _app(engine: Engine, tmp_path) -> TestClient:
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID)
    return TestClient(create_app(settings, engine=engine, cache=InProcessCache()))


@postgres_only
def test_a_populated_registry_is_partitioned_keeping_rows_guarantees_and_behaviour(own_schema, tmp_path):
    engine = own_schema
    _migrate(engine, "upgrade", _revision_before_partitioning())
    plain_shape = _shape(engine)
    # 1. Populated through the app at today's schema: licences for several
    # holders, codes presented and redeemed, use-log entries sequenced and pending.
    with _app(engine, tmp_path) as client, sessionmaker(bind=engine, expire_on_commit=False)() as session:
        world = build(client, client.app, session)
        for holder in HOLDERS:
            world.issue(residence_body(holder))
        redeemed = world.code()
        assert world.redeem(redeemed).status_code == 200
        live = world.code(world.business["identifier"], headers=world.company)  # redeemed after the migration
        publish_log(session)
        assert world.redeem(world.code()).status_code == 200  # its use record stays pending
    engine.dispose()
    before = _snapshot(engine)
    assert len(before["registry_licences"]) == 2 + len(HOLDERS) and len(before["registry_redemptions"]) == 2
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM auditlog_entries WHERE leaf_index IS NULL")).scalar()

    # 2. Partitioned, every row kept as it was.
    upgrade(engine)
    assert _strategies(engine) == PARTITIONED
    assert _snapshot(engine) == before

    with engine.begin() as connection:
        # 3. Every global guarantee holds across partitions.
        placed = connection.execute(text(
            "SELECT id, holder_code, tableoid::regclass::text FROM registry_licences ORDER BY id")).all()
        victim = placed[0]
        elsewhere = next(row.holder_code for row in placed if row[2] != victim[2])  # another partition's holder
        copy = {"id": victim.id, "holder": elsewhere}
        _refused(connection, "uq_registry_licences_base_identifier",
                 _COPY_LICENCE.format(base="base_identifier", serial="'99999998'", index="999998"), copy)
        _refused(connection, "uq_registry_licences_type_code_issuer_code_serial",
                 _COPY_LICENCE.format(base="'L-new-1'", serial="serial", index="999998"), copy)
        _refused(connection, "uq_registry_licences_status_list_id_status_index",
                 _COPY_LICENCE.format(base="'L-new-2'", serial="'99999998'", index="status_index"), copy)
        _refused(connection, "uq_registry_licence_versions_identifier",
                 "INSERT INTO registry_licence_versions (licence_id, version, identifier, face, valid_from, valid_until,"
                 " record, signature, es_id, superseded, created_at) SELECT :other, 7, identifier, face, valid_from,"
                 " valid_until, record, signature, es_id, superseded, created_at FROM registry_licence_versions"
                 " WHERE licence_id = :id", {"id": victim.id, "other": placed[-1].id})
        _refused(connection, "uq_registry_redemptions_presentation_id",
                 "INSERT INTO registry_redemptions (presentation_id, department_code, client_id, operator_id,"
                 " matter_code, purpose, request_hash, redeemed_at) SELECT presentation_id, department_code,"
                 " client_id, operator_id, matter_code, purpose, request_hash, redeemed_at FROM registry_redemptions"
                 " ORDER BY id LIMIT 1")
        # A pending row given a taken index (named by the partition's index of the parent's constraint).
        _refused(connection, r"Key \(leaf_index\)=\(0\) already exists",
                 "UPDATE auditlog_entries SET leaf_index = 0 WHERE id = (SELECT min(id) FROM auditlog_entries"
                 " WHERE leaf_index IS NULL)")
        _refused(connection, "fk_registry_licence_versions_licence_id_registry_licences",
                 "UPDATE registry_licence_versions SET licence_id = -1 WHERE licence_id = :id", {"id": victim.id})
        with pytest.raises(DBAPIError, match="GENERATED ALWAYS"), connection.begin_nested():
            connection.execute(text("INSERT INTO auditlog_entries (id, recorded_at, kind, department_code,"
                                    " operator_id, basis, result, entry) SELECT id, recorded_at, kind, department_code,"
                                    " operator_id, basis, result, entry FROM auditlog_entries LIMIT 1"))

        # 4. Lookups read one partition: a holder's licences, a code, a licence's versions, a log range.
        [licences] = _partitions_of(connection, "SELECT * FROM registry_licences WHERE holder_code = :h",
                                    {"h": HOLDERS[3]}, parent="registry_licences")
        assert licences == connection.execute(text(
            "SELECT tableoid::regclass::text FROM registry_licences WHERE holder_code = :h"), {"h": HOLDERS[3]}).scalar()
        presentation = connection.execute(text("SELECT id FROM registry_presentations LIMIT 1")).scalar()
        _partitions_of(connection, "SELECT * FROM registry_presentations WHERE id = :id", {"id": presentation},
                       parent="registry_presentations")
        _partitions_of(connection, "SELECT * FROM registry_licence_versions WHERE licence_id = :id",
                       {"id": victim.id}, parent="registry_licence_versions")
        assert _partitions_of(connection, "SELECT * FROM auditlog_entries WHERE leaf_index >= 0 AND leaf_index < 256",
                              {}, parent="auditlog_entries") == ["auditlog_entries_from_0"]
        assert _partitions_of(connection, "SELECT id FROM auditlog_entries WHERE leaf_index IS NULL", {},
                              parent="auditlog_entries") == ["auditlog_entries_pending"]

    # 5. The app on the partitioned schema: the code presented before is redeemed
    # once, the redeemed one is refused, a new licence is issued and found by holder.
    with _app(engine, tmp_path) as client, sessionmaker(bind=engine, expire_on_commit=False)() as session:
        world.client, world.session = client, session
        publish_log(session)  # sequences the pending entry: it moves into its range partition
        answer = world.redeem(live)
        assert answer.status_code == 200, answer.text
        assert world.redeem(live).json()["error"] == "replayed"
        assert "licences" not in world.redeem(redeemed).json()  # redeemed before the migration (and superseded)
        fresh = world.issue(residence_body(HOLDERS[5]))
        publish_log(session)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM auditlog_entries_pending")).scalar() == 0
        identifiers = connection.execute(text(
            "SELECT v.identifier FROM registry_licences l JOIN registry_licence_versions v ON v.licence_id = l.id"
            " WHERE l.holder_code = :h"), {"h": HOLDERS[5]}).scalars().all()
        assert fresh["identifier"] in identifiers and len(identifiers) == 2
    engine.dispose()

    # 6. Down again: plain tables, every row (the new ones too) kept.
    grown = _snapshot(engine)
    _migrate(engine, "downgrade", _revision_before_partitioning())
    assert _strategies(engine) == {}
    assert _shape(engine) == plain_shape  # every constraint and index as before 0027
    assert _snapshot(engine) == grown
    assert "registry_licence_keys" not in inspect(engine).get_table_names()


def _partitions_of(connection, query: str, params: dict, *, parent: str) -> list[str]:
    """The partitions of ``parent`` the plan reads; exactly one is asserted."""
    read = sorted(name for name in _relations_read(connection, query, params) if name.startswith(parent + "_"))
    assert len(read) == 1, read
    return read


def _status_list(connection) -> int:
    return connection.execute(text(
        "INSERT INTO registry_status_lists (size, bits, allocated, allocation, data, revision, token, kid, public_key,"
        " created_at, updated_at) VALUES (1024, 2, 0, :zeros, :zeros, 1, 't', 'kid', :zeros, now(), now())"
        " RETURNING id"), {"zeros": bytes(128)}).scalar()


def _licence_row(*, list_id: int, n: int, base: str, serial: str, index: int) -> dict:
    return {"base": base, "serial": serial, "holder": HOLDERS[n % len(HOLDERS)], "list": list_id, "index": index}


_INSERT_LICENCE = text(
    "INSERT INTO registry_licences (base_identifier, type_code, type_version, issuer_code, serial, holder_name,"
    " holder_code, holder_code_type, status, current_version, valid_from, status_list_id, status_index, issued_at,"
    " updated_at) VALUES (:base, 'T', 1, 'ISSUER', :serial, '张三', :holder, '111', 'valid', 1, '2025-01-01', :list,"
    " :index, now(), now())")


def _race(engine: Engine, rows: list[dict]) -> list[str]:
    """Insert each row from its own connection at the same moment; each one's outcome."""
    barrier = threading.Barrier(len(rows))
    outcomes: list[str] = [""] * len(rows)

    def insert(n: int) -> None:
        with engine.connect() as connection:
            barrier.wait()
            try:
                connection.execute(_INSERT_LICENCE, rows[n])
                connection.commit()
                outcomes[n] = "inserted"
            except IntegrityError as error:
                outcomes[n] = str(error.orig).split('"')[1]  # the constraint's name

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@postgres_only
def test_global_uniqueness_holds_under_concurrent_inserts_into_different_partitions(own_schema):
    engine = own_schema
    upgrade(engine)
    with engine.begin() as connection:
        list_id = _status_list(connection)
    racers = len(HOLDERS)
    with engine.connect() as connection:  # the racers' rows go to several partitions
        assert connection.execute(text(
            "SELECT count(DISTINCT remainder) FROM unnest(CAST(:holders AS varchar[])) AS holder,"
            " generate_series(0, 15) AS remainder"
            " WHERE satisfies_hash_partition('registry_licences'::regclass, 16, remainder, holder)"),
            {"holders": HOLDERS}).scalar() >= 4
    same_identifier = _race(engine, [_licence_row(list_id=list_id, n=n, base="L-1", serial=f"{n:08d}", index=n)
                                     for n in range(racers)])
    assert sorted(same_identifier) == ["inserted"] + ["uq_registry_licences_base_identifier"] * (racers - 1)
    same_slot = _race(engine, [_licence_row(list_id=list_id, n=n, base=f"L-2-{n}", serial=f"{100 + n:08d}", index=500)
                               for n in range(racers)])
    assert sorted(same_slot) == ["inserted"] + ["uq_registry_licences_status_list_id_status_index"] * (racers - 1)
    same_serial = _race(engine, [_licence_row(list_id=list_id, n=n, base=f"L-3-{n}", serial="00000777", index=600 + n)
                                 for n in range(racers)])
    assert sorted(same_serial) == ["inserted"] + ["uq_registry_licences_type_code_issuer_code_serial"] * (racers - 1)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM registry_licences")).scalar() == 3
        assert connection.execute(text("SELECT count(*) FROM registry_licence_keys")).scalar() == 3

    # Log ids come from the identity alone: writers at once never share one.
    writers, each = 4, 25
    barrier = threading.Barrier(writers)
    make_session = sessionmaker(bind=engine)

    def write() -> None:
        barrier.wait()
        for n in range(each):
            with make_session() as session:
                insert_pending(session=session, records=[UseRecord(
                    kind="department_query", department_code="11350100MB0000001X", operator_id="clerk-7",
                    basis="holder_presentation", subject_code=HOLDERS[0], licence_ids=["L-1"], fields=["姓名"],
                    matter_code="M-1", purpose="核验", case_number=f"C-{n}", request_hash="ab" * 32)], now=utcnow())
                session.commit()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as connection:
        ids = connection.execute(text("SELECT id FROM auditlog_entries")).scalars().all()
    assert len(ids) == len(set(ids)) == writers * each


def test_sqlite_stays_unpartitioned(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    upgrade(engine)
    tables = inspect(engine).get_table_names()
    assert "registry_licences" in tables and "registry_licence_keys" not in tables
    # The plain tables keep their own constraints: the primary key on id, the global uniques.
    assert inspect(engine).get_pk_constraint("auditlog_entries")["constrained_columns"] == ["id"]
    uniques = {tuple(unique["column_names"]) for unique in inspect(engine).get_unique_constraints("registry_licences")}
    assert ("base_identifier",) in uniques
    engine.dispose()
