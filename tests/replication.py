"""A PostgreSQL primary and a hot standby of a test run's own.

Two clusters under a temporary directory, on free loopback ports: the
primary made by ``initdb``, the standby copied from it by
``pg_basebackup -R`` (which writes the standby's ``primary_conninfo`` and
``standby.signal``), both started with ``pg_ctl`` and stopped after. The
machine's own cluster is never touched.

PostgreSQL refuses to run as root; CI runs as root, so there the commands
run as the ``postgres`` OS user (``runuser``), and the directory is theirs.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def replication_available() -> bool:
    if not (PG_BIN / "initdb").exists():
        return False
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return shutil.which("runuser") is not None


@dataclass(frozen=True)
class Replication:
    primary_url: str
    standby_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(*command: str | Path) -> list[str]:
    arguments = [str(part) for part in command]
    return ["runuser", "-u", "postgres", "--", *arguments] if os.geteuid() == 0 else arguments


def _run(*command: str | Path) -> None:
    subprocess.run(_as_owner(*command), check=True, capture_output=True, text=True, timeout=120)


def _settings(port: int, sockets: Path) -> str:
    # Loopback only; fsync off: a test's clusters need not survive a power cut.
    return (f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sockets}'\n"
            "fsync = off\nfull_page_writes = off\nhot_standby = on\n"
            "max_connections = 50\nshared_buffers = 32MB\n")


def _engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"), pool_pre_ping=True)


def _wait_until(condition, *, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test's replication did not {what} within {timeout} s")
        time.sleep(0.05)


@contextmanager
def start_replication() -> Iterator[Replication]:
    """A running primary and hot standby; stopped and removed on the way out."""
    # Not under pytest's temporary directory: its parents are root's alone,
    # and the postgres user must reach the clusters.
    base = Path(tempfile.mkdtemp(prefix="certhub-replication-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    primary, standby = base / "primary", base / "standby"
    primary_port, standby_port = _free_port(), _free_port()
    started: list[Path] = []
    try:
        _run(PG_BIN / "initdb", "-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
             "--locale=C.UTF-8")
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(_settings(primary_port, base))
        _run(PG_BIN / "pg_ctl", "-D", primary, "-l", base / "primary.log", "-w", "start")
        started.append(primary)
        _run(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
             "-D", standby, "-R", "-X", "stream", "--no-sync", "--checkpoint=fast")
        with open(standby / "postgresql.conf", "a") as conf:
            conf.write(f"port = {standby_port}\n")
        _run(PG_BIN / "pg_ctl", "-D", standby, "-l", base / "standby.log", "-w", "start")
        started.append(standby)
        yield Replication(primary_url=f"postgresql://postgres@127.0.0.1:{primary_port}/postgres",
                          standby_url=f"postgresql://postgres@127.0.0.1:{standby_port}/postgres")
    finally:
        for cluster in reversed(started):
            subprocess.run(_as_owner(PG_BIN / "pg_ctl", "-D", cluster, "-m", "immediate", "-w", "stop"),
                           capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def caught_up(replication: Replication) -> None:
    """Wait until the standby has replayed everything the primary has flushed."""
    primary, standby = _engine(replication.primary_url), _engine(replication.standby_url)
    try:
        with primary.connect() as connection:
            target = connection.execute(text("SELECT pg_current_wal_flush_lsn()::text")).scalar_one()

        def replayed() -> bool:
            with standby.connect() as connection:
                return bool(connection.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:target AS pg_lsn)"),
                                               {"target": target}).scalar_one())

        _wait_until(replayed, what="catch up")
    finally:
        primary.dispose()
        standby.dispose()


def pause_replay(replication: Replication) -> None:
    """Stop the standby replaying WAL (it keeps receiving it), as a standby falling behind does."""
    standby = _engine(replication.standby_url)
    try:
        with standby.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))

        def paused() -> bool:
            with standby.connect() as connection:
                return connection.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar_one() == "paused"

        _wait_until(paused, what="pause its replay")
    finally:
        standby.dispose()


def resume_replay(replication: Replication) -> None:
    standby = _engine(replication.standby_url)
    try:
        with standby.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
    finally:
        standby.dispose()
    caught_up(replication)
