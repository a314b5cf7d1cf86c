"""The command line as a user runs it: real settings from the environment,
a real SQLite file in a temporary directory."""

import logging
import re

import pytest
import yaml
from typer.testing import CliRunner

from certhub.cli import app
from certhub.demo.seed import CATALOG_FILE
from registry.setup import root_public_key
from signing.trustlist import TrustList

pytestmark = pytest.mark.slow  # every command on a database of its own, migrated first; one seeds the whole demo

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTHUB_SECRET_KEY", raising=False)
    monkeypatch.delenv("CERTHUB_DEMO", raising=False)
    return tmp_path


def run(*args):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_db_upgrade_then_current(env):
    assert run("db", "current").output.strip() == "empty"
    result = run("db", "upgrade")
    assert result.exit_code == 0 and "-> 0" in result.output
    assert re.fullmatch(r"\d{4}", run("db", "current").output.strip())


def test_commands_ask_for_the_schema_first(env):
    result = run("catalog", "export")
    assert result.exit_code == 2
    assert "certhub db upgrade" in result.output


@pytest.mark.slow
def test_catalog_load_is_idempotent_and_exports(env):
    run("db", "upgrade")
    first = run("catalog", "load", str(CATALOG_FILE))
    assert first.exit_code == 0, first.output
    second = run("catalog", "load", str(CATALOG_FILE))
    assert "licence_types: 0 changed, 18 unchanged" in second.output
    exported = yaml.safe_load(run("catalog", "export").output)
    assert len(exported["licence_types"]) == 18


def test_catalog_load_with_a_broken_reference_names_it(env):
    run("db", "upgrade")
    data = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    matter = data["matters"][0]
    matter["materials"][0]["satisfied_by"] = {"kind": "licence_type", "code": "11100000000013338W999"}
    broken = env / "broken.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = run("catalog", "load", str(broken))
    assert result.exit_code == 1
    assert "11100000000013338W999" in result.output
    assert matter["code"] in result.output
    # nothing of the broken file was kept
    assert yaml.safe_load(run("catalog", "export").output)["departments"] == []


def test_clients_create_prints_the_secret_once(env):
    run("db", "upgrade")
    run("catalog", "load", str(CATALOG_FILE))
    department = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))["departments"][1]["code"]
    result = run("clients", "create", "-d", department, "-n", "审批系统", "-s", "licence:issue")
    assert result.exit_code == 0, result.output
    secret = re.search(r"client_secret: (\S+)", result.output).group(1)
    listing = run("clients", "list").output
    assert department in listing and secret not in listing


def test_clients_create_refuses_unknown_scopes_and_departments(env):
    run("db", "upgrade")
    run("catalog", "load", str(CATALOG_FILE))
    department = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))["departments"][1]["code"]
    bad_scope = run("clients", "create", "-d", department, "-n", "x", "-s", "everything")
    assert bad_scope.exit_code == 1 and "unknown scope" in bad_scope.output
    bad_department = run("clients", "create", "-d", "11350000MB0000000X", "-n", "x", "-s", "licence:issue")
    assert bad_department.exit_code == 1 and "not found" in bad_department.output


def test_serve_refuses_to_start_without_a_secret(env):
    result = run("serve")
    assert result.exit_code == 2
    assert "CERTHUB_SECRET_KEY" in result.output


def test_serve_help_documents_liveness_readiness_and_metrics():
    result = run("serve", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for said in ("GET /healthz is liveness", "GET /readyz is readiness", "metrics:read", "--log-format"):
        assert said in text, text


@pytest.fixture
def logging_restored():
    """Logging as it was: `serve` configures it for uvicorn (certhub.logs.log_config),
    with handlers on the streams the CLI runner closes when the command ends."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved_root = (root.level, root.handlers[:])
    saved = {name: (logger.level, logger.handlers[:], logger.propagate, logger.disabled)
             for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)}
    yield
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            level, handlers, propagate, disabled = saved.get(name, (logging.NOTSET, [], True, False))
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate, logger.disabled = propagate, disabled


@pytest.mark.usefixtures("logging_restored")
def test_serve_with_workers_says_when_its_port_is_taken(env, monkeypatch):
    import socket

    monkeypatch.setenv("CERTHUB_SECRET_KEY", "s" * 48)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--workers", "2", "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_demo_prepares_idempotently_with_fresh_credentials(env):
    first = run("demo", "--prepare-only", "--data-dir", str(env / "demo"))
    assert first.exit_code == 0, first.output
    assert "/docs" in first.output
    second = run("demo", "--prepare-only", "--data-dir", str(env / "demo"))
    assert "departments: 0 changed" in second.output
    secrets = [re.search(r"each start\): \S+ / (\S+)", r.output).group(1) for r in (first, second)]
    assert secrets[0] != secrets[1]


def test_signing_init_prints_the_root_to_pin_and_serves_a_trust_list(env, monkeypatch):
    monkeypatch.setenv("CERTHUB_SECRET_KEY", "cli-test-secret-" + "y" * 40)
    run("db", "upgrade")
    first = run("signing", "init")
    assert first.exit_code == 0 and "created" in first.output
    pinned = first.output.strip().splitlines()[-1]
    again = run("signing", "init")
    assert "already set up" in again.output and again.output.strip().splitlines()[-1] == pinned
    listing = run("signing", "trust-list")
    assert listing.exit_code == 0
    trust_list = TrustList.from_json(listing.output.strip().encode(), root_public_key=root_public_key(pinned))
    assert trust_list.sequence >= 1
