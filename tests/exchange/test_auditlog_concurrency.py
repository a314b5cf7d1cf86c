"""Several writers on one database: indices stay contiguous and the tree verifies.

PostgreSQL: two processes (as two app processes would be). SQLite: threads.
"""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import sessionmaker

from certhub.app import create_app
from certhub.settings import Settings
from exchange.auditlog import integrate_pending, publish_checkpoint, verifier_key
from exchange.auditlog.integration import DbTileReader, current_state
from exchange.auditlog.models import LogCheckpoint, LogEntry, LogSigningKey, LogState, LogTile
from exchange.auditlog.records import parse_entry
from identity.tokens import TokenAuthority
from signing.transparency import EMPTY_ROOT, leaf_hash, root_from_leaf_hashes, tree_root, verify_log
from storage.cache import InProcessCache
from tests.environment import engine_on_schema
from tests.factories.log_sources import in_process_source
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import ORIGIN, SECRET, use

pytestmark = pytest.mark.slow  # writers racing in other processes

PER_WRITER = 60


def _write(make_session, writer: int) -> None:
    for n in range(PER_WRITER):
        with make_session() as session:
            use(session, operator_id=f"clerk-{writer}", case_number=f"W{writer}-{n}")
            session.commit()
        if n % 7 == 0:
            with make_session() as session:
                integrate_pending(session=session, max_batch=16)
                session.commit()


def _child(url: str, schema: str, writer: int) -> None:
    engine = engine_on_schema(url, schema)
    _write(sessionmaker(bind=engine), writer)
    engine.dispose()


def _reset(engine) -> None:
    with engine.begin() as connection:
        for table in (LogEntry, LogTile, LogCheckpoint, LogSigningKey):
            connection.execute(delete(table))
        connection.execute(update(LogState).values(size=0, root_hash=EMPTY_ROOT))


def test_concurrent_writers_get_contiguous_indices(migrated_engine, tmp_path):
    make_session = sessionmaker(bind=migrated_engine)
    try:
        if migrated_engine.dialect.name == "postgresql":
            with migrated_engine.connect() as connection:
                schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
            url = migrated_engine.url.render_as_string(hide_password=False)
            context = multiprocessing.get_context("spawn")
            workers = [context.Process(target=_child, args=(url, schema, n)) for n in range(2)]
        else:
            workers = [threading.Thread(target=_write, args=(make_session, n)) for n in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert all(getattr(worker, "exitcode", 0) == 0 for worker in workers)
        with make_session() as session:
            published = publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN)
            session.commit()
            entries = session.scalars(select(LogEntry.entry).order_by(LogEntry.leaf_index)).all()
            indices = session.scalars(select(LogEntry.leaf_index).order_by(LogEntry.leaf_index)).all()
            assert indices == list(range(2 * PER_WRITER))
            expected = root_from_leaf_hashes([leaf_hash(entry) for entry in entries])
            assert published.size == 2 * PER_WRITER and published.root_hash == expected
            assert current_state(session=session).root_hash == expected
            assert tree_root(size=published.size, reader=DbTileReader(session=session)) == expected
            cases = {parse_entry(entry)["case_number"] for entry in entries}
            assert cases == {f"W{writer}-{n}" for writer in range(2) for n in range(PER_WRITER)}
            key = verifier_key(session=session, origin=ORIGIN)
        # The tree the two writers built verifies as an outside auditor sees it.
        report = _verify_served(migrated_engine, tmp_path, key)
        assert (report.size, report.root_hash, report.entries_checked) == (2 * PER_WRITER, expected, 2 * PER_WRITER)
    finally:
        _reset(migrated_engine)


def _verify_served(engine, tmp_path, key):
    settings = Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test")
    app = create_app(settings, engine=engine, cache=InProcessCache())
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code="11350100MB0000001X",
                                            scopes=["audit:read"])
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        source = in_process_source(client)
        return verify_log(source=source, verifier_key=key, fetch_threads=1)
