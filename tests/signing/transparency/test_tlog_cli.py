"""The ``audit verify`` command against directory logs."""

from __future__ import annotations

import base64

from typer.testing import CliRunner

from certhub.cli.audit import app
from signing.transparency.note import NoteSigner

from .logs import ORIGIN, build_reference, flip_byte, sample_entries

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
