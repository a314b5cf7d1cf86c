"""`certhub verify FILE.ofd`: an OFD layout document's 签章 checked offline;
exit status 0 when valid, 1 when not, 2 when the file cannot be read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from certhub.cli import app
from registry.layout.ofd import render_ofd
from tests.factories.ofd import SEAL_NAME, flip_byte, licence_face, ofd_signer

runner = CliRunner()


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return render_ofd(licence_face(), signer=ofd_signer(), signed_at=datetime(2026, 1, 5, 8, 30, tzinfo=UTC))


def test_a_sealed_ofd_verifies_and_prints_its_seal(sealed, tmp_path):
    path = tmp_path / "licence.ofd"
    path.write_bytes(sealed)
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("VALID OFD document") and SEAL_NAME in result.output
    as_json = json.loads(runner.invoke(app, ["verify", "--json", str(path)]).output)
    assert as_json["valid"] is True and as_json["signatures"][0]["seal"] == SEAL_NAME


def test_one_byte_changed_is_refused_with_exit_status_1(sealed, tmp_path):
    path = tmp_path / "changed.ofd"
    path.write_bytes(flip_byte(sealed, "/Doc_0/Pages/Page_0/Content.xml", offset=60))
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("INVALID OFD: ")
    as_json = json.loads(runner.invoke(app, ["verify", "--json", str(path)]).output)
    assert as_json["valid"] is False and as_json["error"] in ("signature_invalid", "malformed")


def test_a_file_that_is_not_an_ofd_package_is_refused(tmp_path):
    path = tmp_path / "empty.ofd"
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 1 and "INVALID OFD" in result.output
