"""Read-only work on the primary (``certhub.db.read_only_engine``), on SQLite:
a deferred transaction that neither waits for the app's writer nor holds
one up, so a request may read in one session and write in another."""

from __future__ import annotations

from sqlalchemy import text

from certhub.db import create_db_engine, create_sessionmaker, read_only_engine


def test_a_read_only_session_reads_beside_a_writer_on_sqlite(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'reads.sqlite3'}", serve_requests=True)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE notes (body text)"))
            connection.execute(text("INSERT INTO notes VALUES ('before')"))
        reads, writes = create_sessionmaker(read_only_engine(engine)), create_sessionmaker(engine)
        with reads() as reading, writes() as writing:
            assert reading.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1
            # The app's sessions begin IMMEDIATE (the write lock): with the reader holding it too,
            # this would wait out the busy timeout and fail "database is locked".
            writing.execute(text("INSERT INTO notes VALUES ('after')"))
            writing.commit()
            assert reading.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1  # its snapshot
        with reads() as reading:
            assert reading.execute(text("SELECT count(*) FROM notes")).scalar_one() == 2
    finally:
        engine.dispose()
