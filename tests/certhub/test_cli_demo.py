"""The first ten minutes: after `certhub demo`, the commands in the README
work against the demo as printed, with no variable to guess.

The demo uses the data directory every command uses (CERTHUB_DATA_DIR, else
./data) and marks it as the demo's with its own key-encryption secret and
registry id (certhub.demo.state); other commands run there follow it. Errors
a user can fix are one line saying what to set.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from certhub.app import create_app
from certhub.cli import app
from certhub.db import create_db_engine
from certhub.demo.state import STATE_FILE, read_state
from certhub.settings import Settings
from signing.keys import load_public_key
from signing.transparency.note import Note
from signing.trustlist import TrustList
from storage.cache import InProcessCache
from tests.adapters.loopback import free_port
from tests.processes import stop_process

pytestmark = pytest.mark.slow  # seeds the whole demo

PORT = 8123
BASE = f"http://127.0.0.1:{PORT}"
_UNSET = dict.fromkeys(("CERTHUB_DATABASE_URL", "CERTHUB_SECRET_KEY", "CERTHUB_DEMO", "CERTHUB_REGISTRY_ID", "CERTHUB_DATA_DIR"))


def cli(data_dir, *args: str, **env: str):
    environment = {**_UNSET, "CERTHUB_DATA_DIR": str(data_dir), **env}
    return CliRunner().invoke(app, list(args), env=environment, catch_exceptions=False)


def _printed(output: str, pattern: str) -> re.Match:
    match = re.search(pattern, output)
    assert match is not None, output
    return match


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    result = cli(data_dir, "demo", "--prepare-only", "--port", str(PORT))
    assert result.exit_code == 0, result.output
    return data_dir, result.output


def test_commands_after_the_demo_use_its_database(demo):
    data_dir, output = demo
    assert (data_dir / "certhub.sqlite3").is_file() and not (data_dir / "demo").exists()
    assert f"export CERTHUB_DATA_DIR={data_dir.resolve()}" in output
    platform_client = _printed(output, r"each start\): (\S+) / ").group(1)
    listing = cli(data_dir, "clients", "list")
    assert listing.exit_code == 0, listing.output
    assert platform_client in listing.output
    assert re.fullmatch(r"\d{4}", cli(data_dir, "db", "current").output.strip())


def test_a_command_without_a_database_says_what_to_set(tmp_path):
    result = cli(tmp_path / "elsewhere", "clients", "list")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert f"CERTHUB_DATA_DIR={(tmp_path / 'elsewhere').resolve()}" in result.output
    assert "certhub demo" in result.output and "certhub db upgrade" in result.output


def test_the_demo_leaves_a_database_it_did_not_make_alone(tmp_path):
    assert cli(tmp_path, "db", "upgrade").exit_code == 0
    result = cli(tmp_path, "demo", "--prepare-only")
    assert result.exit_code == 2
    assert "not created by `certhub demo`" in result.output
    assert not (tmp_path / STATE_FILE).exists()


def test_serve_does_not_serve_the_demo_database(demo):
    data_dir, _ = demo
    result = cli(data_dir, "serve", CERTHUB_SECRET_KEY="s" * 48)
    assert result.exit_code == 2 and "certhub demo" in result.output


def test_signing_commands_against_the_demo_use_its_own_secret(demo):
    data_dir, _ = demo
    assert stat.S_IMODE((data_dir / STATE_FILE).stat().st_mode) == 0o600
    expired = cli(data_dir, "licences", "expire")
    assert expired.exit_code == 0, expired.output
    listing = cli(data_dir, "signing", "trust-list")
    assert listing.exit_code == 0, listing.output


def test_signing_without_the_right_secret_is_one_line_saying_what_to_set(demo, tmp_path):
    data_dir, _ = demo
    shutil.copy(data_dir / "certhub.sqlite3", tmp_path / "certhub.sqlite3")  # the database without the demo's record
    missing = cli(tmp_path, "licences", "expire")
    assert missing.exit_code == 2
    assert len(missing.output.strip().splitlines()) == 1 and "CERTHUB_SECRET_KEY" in missing.output
    wrong = cli(tmp_path, "signing", "trust-list", CERTHUB_SECRET_KEY="wrong-secret-" + "w" * 40)
    assert wrong.exit_code == 2
    assert len(wrong.output.strip().splitlines()) == 1 and "CERTHUB_SECRET_KEY" in wrong.output


def test_the_demo_prints_the_root_key_to_pin_and_is_named_by_its_url(demo, tmp_path):
    data_dir, output = demo
    root_key = _printed(output, r"trust-root key to pin \(base64url[^)]*\): (\S+)").group(1)
    assert f"--root-key {root_key}" in output
    listing = cli(data_dir, "signing", "trust-list")
    body = listing.output.strip().encode()
    der = base64.urlsafe_b64decode(root_key + "=" * (-len(root_key) % 4))
    TrustList.from_json(body, root_public_key=load_public_key(der))
    # Its registry id is the URL it serves, so the status URIs in its codes resolve.
    assert json.loads(body)["payload"]["registry_id"] == BASE
    trust_list = tmp_path / "trust-list.json"
    trust_list.write_bytes(body)
    # `certhub verify` takes the key as printed (base64url) and as `signing init` prints it (base64):
    # the trust list verifies, and only the code itself is judged.
    for pinned in (root_key, base64.b64encode(der).decode()):
        result = cli(data_dir, "verify", "EL1:NOT-A-CODE", "--trust-list", str(trust_list), "--root-key", pinned)
        assert result.exit_code == 1 and result.output.startswith("INVALID"), result.output


def test_the_demo_prints_a_client_that_can_issue(demo):
    data_dir, output = demo
    issuer = _printed(output, r"issuing client \([^)]*\): (\S+) / (\S+)")
    department = _printed(output, r"department: +\S+ \((\w{18})\), issues 居民身份证")
    platform = _printed(output, r"each start\): (\S+) / (\S+)")
    state = read_state(data_dir)
    settings = Settings(demo=True, data_dir=data_dir, secret_key=state.secret_key, registry_id=state.registry_id)
    engine = create_db_engine(settings.effective_database_url, serve_requests=True)
    try:
        with TestClient(create_app(settings, engine=engine, cache=InProcessCache())) as client:
            answers = [_issue(client, found.group(1), found.group(2)) for found in (issuer, platform)]
    finally:
        engine.dispose()
    assert answers[0].status_code == 201, answers[0].text
    assert f".{department.group(1)}." in answers[0].json()["identifier"]
    # The platform client (all scopes) acts as 数字福建办, which issues nothing: the reason the banner names an issuer.
    assert answers[1].json()["error"] == "not_issuer"


def _issue(client: TestClient, client_id: str, secret: str):
    token = client.post("/api/v1/oauth/token", auth=(client_id, secret),
                        data={"grant_type": "client_credentials", "scope": "licence:issue"})
    assert token.status_code == 200, token.text
    holder = {"name": "陈晓东", "code": "350102199001010016", "code_type": "111"}
    return client.post("/api/v1/licences", headers={"Authorization": f"Bearer {token.json()['access_token']}"}, json={
        "type_code": "11100000175689532F001", "holder": holder, "operator": "demo-test",
        "valid_from": "2020-01-01", "valid_until": "2040-01-01",
        "face": {"name": holder["name"], "sex": "男", "ethnicity": "汉", "birth_date": "1990-01-01",
                 "address": "福建省福州市鼓楼区五四路1号", "id_number": holder["code"],
                 "issuing_authority": "福州市公安局鼓楼分局", "validity_period": "2020.01.01-2040.01.01",
                 "photo": "演示照片"},
    })


def _cosigned_checkpoint(base: str, process: subprocess.Popen, output) -> bytes:
    """The demo's checkpoint once it carries the log's signature and a cosignature."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            answer = httpx.get(f"{base}/log/checkpoint", timeout=10)
            if answer.status_code == 200 and len(Note.from_bytes(answer.content).signatures) == 2:
                return answer.content
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"no cosigned checkpoint from the demo: {output.read_text()}")


def test_the_demo_runs_a_witness_and_its_checkpoints_come_cosigned(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    output = tmp_path / "demo.out"
    environment = {name: value for name, value in os.environ.items() if name not in _UNSET}
    environment.update(CERTHUB_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    with open(output, "w") as stream:
        process = subprocess.Popen([sys.executable, "-c", "from certhub.cli import main; main()", "demo", "--port",
                                    str(port)], stdout=stream, stderr=subprocess.STDOUT, env=environment)
    try:
        note = _cosigned_checkpoint(base, process, output)
        vkey = _printed(output.read_text(), r"vkey: +(\S+)").group(1)
        assert Note.from_bytes(note).signatures[1].name == "127.0.0.1/demo-witness"
        key = httpx.get(f"{base}/log/verifier-key", timeout=10).text.strip()
        verified = cli(tmp_path / "data", "audit", "verify", "--url", f"{base}/log/", "--key", key, "--witness", vkey)
        assert verified.exit_code == 0, verified.output
        assert "cosigned by: 127.0.0.1/demo-witness" in verified.output
        witness_url = httpx.get(f"{base}/log/health", timeout=10).json()["witnessing"]
        assert witness_url["policy_met"] is True and witness_url["threshold"] == 1
    finally:
        stop_process(process)
    # The witness's state is the demo's to keep, under the data directory; the child went with the demo.
    state_dir = (tmp_path / "data" / "witness").resolve()
    assert (state_dir / "witness.key").is_file() and (state_dir / "witness.sqlite3").is_file()
    assert not _processes_naming(str(state_dir))


def _processes_naming(text: str) -> list[str]:
    """Running processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.name.isdigit() and text in command:
            found.append(entry.name)
    return found

