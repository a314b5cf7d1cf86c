"""The use log's range partitions on PostgreSQL (migration 0027): entries
past the last partition land in the DEFAULT partition without failing, and
the checkpointer's round makes the next partitions, moving those entries into
them, while the log stays unique by index and verifiable.

PostgreSQL's: skipped without CERTHUB_TEST_DATABASE_URL (SQLite has one plain
table, where the round leaves everything as it is: the last test)."""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from catalog.access import UseRecord
from certhub.db import create_db_engine, upgrade
from exchange.auditlog import insert_pending, integrate_pending
from exchange.auditlog.checkpoints import make_room, publish_round
from exchange.auditlog.integration import current_state
from exchange.auditlog.models import LogEntry
from signing.transparency import leaf_hash, root_from_leaf_hashes
from storage.base import utcnow
from storage.partitions import extend_range_partitions
from tests.environment import POSTGRES_URL, engine_on_new_schema
from tests.factories.use_records import DEPT, HOLDER, ORIGIN, SECRET

WIDTH = 256  # one tile of leaves per partition, so a few hundred entries cross partitions


@pytest.fixture
def narrow_log():
    """A schema of its own at head whose log has one range partition [0, 256) and the DEFAULT one."""
    if POSTGRES_URL is None:
        pytest.skip("range partitions are PostgreSQL's: set CERTHUB_TEST_DATABASE_URL")
    schema = f"certhub_logparts_{os.getpid()}_{secrets.token_hex(3)}"
    engine = engine_on_new_schema(schema)
    upgrade(engine)
    with engine.begin() as connection:
        for name in _range_partitions(connection):
            connection.execute(text(f'DROP TABLE "{name}"'))  # empty: the log starts empty
        connection.execute(text(f"CREATE TABLE auditlog_entries_from_0 PARTITION OF auditlog_entries"
                                f" FOR VALUES FROM (0) TO ({WIDTH})"))
    yield engine
    engine.dispose()
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _range_partitions(connection) -> list[str]:
    return sorted(connection.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'auditlog_entries'::regclass AND NOT c.relpartbound IS NULL"
        " AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'")).scalars())


def _append(make_session, count: int) -> None:
    records = [UseRecord(kind="department_query", department_code=DEPT, operator_id="clerk-7",
                         basis="holder_presentation", subject_code=HOLDER, licence_ids=["L-1"], fields=["姓名"],
                         matter_code="M-1", purpose="核验", case_number=f"C-{n}", request_hash="ab" * 32)
               for n in range(count)]
    with make_session() as session:
        insert_pending(session=session, records=records, now=utcnow())
        session.commit()


def _placement(connection) -> dict[str, list[int | None]]:
    rows = connection.execute(text(
        "SELECT tableoid::regclass::text, leaf_index FROM auditlog_entries ORDER BY leaf_index NULLS LAST")).all()
    placed: dict[str, list[int | None]] = {}
    for partition, index in rows:
        placed.setdefault(partition, []).append(index)
    return placed


def test_entries_past_the_last_partition_wait_in_default_until_the_checkpointer_makes_room(narrow_log):
    make_session = sessionmaker(bind=narrow_log)
    _append(make_session, 300)
    with make_session() as session:  # sequenced past the last range partition: no failure
        assert integrate_pending(session=session, max_batch=300).new_size == 300
        session.commit()
    _append(make_session, 1)  # and one still pending
    with narrow_log.connect() as connection:
        placed = _placement(connection)
    assert placed["auditlog_entries_from_0"] == list(range(WIDTH))
    assert placed["auditlog_entries_pending"] == [*range(WIDTH, 300), None]

    # The checkpointer's round sequences the pending one and makes room: the
    # partition holding index 300 and two more past it, the waiting rows moved in.
    assert publish_round(make_session, SECRET, origin=ORIGIN)
    with narrow_log.connect() as connection:
        assert _range_partitions(connection) == [f"auditlog_entries_from_{lower}" for lower in (0, 256, 512, 768)]
        placed = _placement(connection)
    assert placed["auditlog_entries_from_256"] == list(range(WIDTH, 301))
    assert "auditlog_entries_pending" not in placed
    assert make_room(make_session, size=301) == []  # room enough already

    with narrow_log.begin() as connection:  # the moved rows are under the log's unique index
        with pytest.raises(IntegrityError, match=r"Key \(leaf_index\)=\(257\) already exists"), \
                connection.begin_nested():
            connection.execute(text("UPDATE auditlog_entries SET leaf_index = 257 WHERE leaf_index = 258"))
    with make_session() as session:  # and the tree over them is the one the state holds
        entries = session.scalars(select(LogEntry.entry).order_by(LogEntry.leaf_index)).all()
        assert current_state(session=session).root_hash == root_from_leaf_hashes([leaf_hash(e) for e in entries])


def test_room_is_made_one_partition_at_a_time_from_the_catalogs_bounds(narrow_log):
    with narrow_log.begin() as connection:
        assert extend_range_partitions(connection, table="auditlog_entries", covering=0, ahead=1) == \
            ["auditlog_entries_from_256"]
        assert extend_range_partitions(connection, table="auditlog_entries", covering=600, ahead=0) == \
            ["auditlog_entries_from_512"]
        # Tables that are not range-partitioned are left alone.
        assert extend_range_partitions(connection, table="registry_licences", covering=10**9, ahead=2) == []
        assert extend_range_partitions(connection, table="auditlog_tiles", covering=10**9, ahead=2) == []


def test_sqlite_has_no_partitions_to_make(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    upgrade(engine)
    with engine.begin() as connection:
        assert extend_range_partitions(connection, table="auditlog_entries", covering=10**9, ahead=2) == []
    assert make_room(sessionmaker(bind=engine), size=10**9) == []
    engine.dispose()
