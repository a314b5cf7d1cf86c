"""Command-line jobs beside a running server on SQLite wait for its writes.

A job's transaction that read before another process's write committed and
wrote after it failed at once with "database is locked" (WAL cannot move a
stale read snapshot forward; the busy timeout does not apply to it). Jobs
begin IMMEDIATE, like the app's requests, and so wait their turn.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import yaml
from typer.testing import CliRunner

import certhub.cli.clients_cmd  # noqa: F401  (loaded before the clock starts, as in a running CLI)
from certhub.cli import app
from certhub.demo.seed import CATALOG_FILE

pytestmark = pytest.mark.slow  # waits out another connection's write

HOLD_SECONDS = 2.0


def _run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_clients_create_waits_for_another_connections_write(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    for name in ("CERTHUB_DATABASE_URL", "CERTHUB_SECRET_KEY", "CERTHUB_DEMO"):
        monkeypatch.delenv(name, raising=False)
    assert _run("db", "upgrade").exit_code == 0
    assert _run("catalog", "load", str(CATALOG_FILE)).exit_code == 0
    departments = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))["departments"]
    issuer, other = departments[1]["code"], departments[2]["code"]

    holding, failures = threading.Event(), []

    def server_write() -> None:
        # What a server's request does: a write transaction, held for a while, then committed.
        connection = sqlite3.connect(tmp_path / "certhub.sqlite3", timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE catalog_departments SET name = name || '·' WHERE code = ?", (other,))
            holding.set()
            time.sleep(HOLD_SECONDS)
            connection.execute("COMMIT")
        except sqlite3.Error as error:  # pragma: no cover - reported below
            failures.append(error)
            holding.set()
        finally:
            connection.close()

    writer = threading.Thread(target=server_write)
    writer.start()
    try:
        assert holding.wait(30)
        result = _run("clients", "create", "-d", issuer, "-n", "审批系统", "-s", "licence:issue")
    finally:
        writer.join()
    assert failures == []
    assert result.exit_code == 0, result.output
    assert "client_secret:" in result.output
