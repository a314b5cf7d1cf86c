"""The ``audit verify`` command against directory logs and static HTTP servers,
including logs written by the independent writer."""

from __future__ import annotations

import base64
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from certhub.cli.audit import app
from signing.transparency.note import NoteSigner

from .independent_writer import IndependentLog
from .logs import ORIGIN, build_reference, entry_offset, flip_byte, sample_entries

runner = CliRunner()


def _log(tmp_path, size=600):
    return build_reference(tmp_path / "log", sample_entries(size))


def test_verified_log_prints_the_checkpoint(tmp_path):
    log = _log(tmp_path)
    result = runner.invoke(app, ["verify", "--dir", str(log.directory), "--key", log.verifier_key])
    assert result.exit_code == 0, result.output
    root = log.checkpoint.decode().split("\n")[2]
    assert f"origin: {ORIGIN}" in result.stdout
    assert "size: 600" in result.stdout
    assert f"root: {root}" in result.stdout
    assert len(base64.b64decode(root)) == 32


def test_since_and_no_entries(tmp_path):
    earlier = build_reference(tmp_path / "old", sample_entries(300)).checkpoint
    (tmp_path / "since").write_bytes(earlier)
    log = _log(tmp_path)
    result = runner.invoke(
        app,
        ["verify", "--dir", str(log.directory), "--key", log.verifier_key, "--since", str(tmp_path / "since"),
         "--no-entries"],
    )
    assert result.exit_code == 0, result.output
    assert "entries checked: 0" in result.stdout
    assert "earlier checkpoint of size 300" in result.stdout


def test_damaged_log_exits_1_with_code_and_first_bad_tile(tmp_path):
    log = _log(tmp_path)
    flip_byte(log.directory / "tile/0/001", 7)
    result = runner.invoke(app, ["verify", "--dir", str(log.directory), "--key", log.verifier_key])
    assert result.exit_code == 1
    assert "tile_mismatch" in result.stderr
    assert "tile/0/001" in result.stderr


def test_rewritten_history_exits_1(tmp_path):
    earlier = build_reference(tmp_path / "old", sample_entries(300)).checkpoint
    (tmp_path / "since").write_bytes(earlier)
    entries = sample_entries(600)
    entries[5] = b"forged"
    log = build_reference(tmp_path / "log", entries)
    result = runner.invoke(
        app, ["verify", "--dir", str(log.directory), "--key", log.verifier_key, "--since", str(tmp_path / "since")]
    )
    assert result.exit_code == 1
    assert "inconsistent_history" in result.stderr


def test_wrong_key_exits_1(tmp_path):
    log = _log(tmp_path)
    other = NoteSigner.generate(ORIGIN).verifier.to_key_string()
    result = runner.invoke(app, ["verify", "--dir", str(log.directory), "--key", other])
    assert result.exit_code == 1
    assert "bad_signature" in result.stderr


@pytest.mark.slow
def test_usage_errors_exit_2(tmp_path):
    log = _log(tmp_path, size=3)
    key = log.verifier_key
    cases = [
        ["verify", "--key", key],
        ["verify", "--key", key, "--dir", str(log.directory), "--url", "http://127.0.0.1:9/"],
        ["verify", "--key", "not-a-key", "--dir", str(log.directory)],
        ["verify", "--key", key, "--dir", str(tmp_path / "absent")],
        ["verify", "--key", key, "--url", "ftp://example.com/log"],
        ["verify", "--key", key, "--dir", str(log.directory), "--since", str(tmp_path / "absent")],
        ["verify", "--dir", str(log.directory)],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)


class _EntriesNeedToken(SimpleHTTPRequestHandler):
    """A static log server that, like certhub, serves entry bundles only to
    holders of a bearer token."""

    token = "reader-token"

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.startswith("/tile/entries/") and self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_error(401)
            return
        super().do_GET()

    def log_message(self, format, *args):  # keep test output clean
        pass


@pytest.fixture
def independent_served(tmp_path):
    """A log grown in two steps by the independent writer, served on loopback."""
    directory = tmp_path / "independent"
    log = IndependentLog(name=ORIGIN, seed=bytes(range(32)))
    entries = sample_entries(700)
    (tmp_path / "earlier").write_bytes(log.write(directory, entries[:300]))
    log.write(directory, entries)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_EntriesNeedToken, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield directory, log.verifier_key, f"http://127.0.0.1:{server.server_address[1]}/", tmp_path / "earlier"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_independent_writers_log_grown_in_steps_verifies(independent_served):
    directory, key, url, earlier = independent_served
    local = runner.invoke(app, ["verify", "--dir", str(directory), "--key", key, "--since", str(earlier)])
    assert local.exit_code == 0, local.output
    assert "entries checked: 700" in local.stdout and "earlier checkpoint of size 300" in local.stdout
    remote = runner.invoke(app, ["verify", "--url", url, "--key", key, "--since", str(earlier)])
    assert remote.exit_code == 0, remote.output
    assert "entries NOT checked" in remote.stdout and "entries checked: 0" in remote.stdout
    with_token = runner.invoke(app, ["verify", "--url", url, "--key", key, "--token", _EntriesNeedToken.token])
    assert with_token.exit_code == 0, with_token.output
    assert "entries checked: 700" in with_token.stdout


def test_independent_writers_log_with_a_changed_entry_names_it_over_http(independent_served):
    directory, key, url, _ = independent_served
    bundle = directory / "tile/entries/001"
    offset, _ = entry_offset(bundle, 9)
    flip_byte(bundle, offset + 4)
    result = runner.invoke(app, ["verify", "--url", url, "--key", key, "--token", _EntriesNeedToken.token])
    assert result.exit_code == 1
    assert "entry_mismatch" in result.stderr and "first bad leaf index: 265" in result.stderr
