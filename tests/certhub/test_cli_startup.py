"""The command line imports only what the command it runs uses.

Importing the server app (FastAPI, SQLAlchemy, every router, the font tools)
cost every `certhub` call about 3 s of CPU. Each spawned `certhub serve
--workers N` worker imports `certhub.cli` again as its main module before
its health-check thread starts, so that import must stay light too.
`python -m bench cli` measures the time; these tests check what is loaded.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # starts a Python process per command

# What only the server, the database or the web pages need.
HEAVY = ("fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "fontTools", "openpyxl", "psycopg", "redis",
         "httpx", "urllib3", "certhub.app", "certhub.db", "catalog", "registry", "exchange", "adapters")


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def _run_cli(*args: str) -> str:
    return ("import sys\nfrom certhub.cli import main\nsys.argv = ['certhub', " + ", ".join(map(repr, args)) + "]\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code in (0, None), exit.code\n")


def test_importing_the_cli_loads_no_command():
    modules = _loaded_after("import certhub.cli")
    assert _heavy(modules) == []
    assert not [m for m in modules if m.startswith("certhub.cli.") and m != "certhub.cli.errors"]


@pytest.mark.parametrize("args", [("--help",), ("verify", "--help"), ("seal", "--help")])
def test_commands_that_need_no_database_load_neither_server_nor_database(args):
    assert _heavy(_loaded_after(_run_cli(*args))) == []


@pytest.mark.parametrize("group", ["db", "catalog", "clients", "licences", "signing", "audit", "webhooks"])
def test_a_database_command_does_not_load_the_server(group):
    modules = _loaded_after(_run_cli(group, "--help"))
    assert not {"certhub.app", "uvicorn", "fontTools"} & modules


# Every command as the CLI offered it when it imported every module up front.
COMMANDS = """serve, demo, verify, db upgrade, db current, catalog load, catalog export, clients create, clients list,
clients add-key, clients keys, clients retire-key, clients revoke-key, clients use-private-key-jwt, clients disable,
seal inspect, signing init, signing trust-list, signing keys, audit verify, audit checkpoint, audit export, licences expiring,
licences disputes, licences expire, licences issue, licences import, webhooks run, registries list,
registries refresh"""


@pytest.mark.parametrize("command", [c.strip() for c in COMMANDS.split(",")])
def test_every_command_is_still_there(command):
    from typer.testing import CliRunner

    from certhub.cli import app

    result = CliRunner().invoke(app, [*command.split(), "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert re.search(rf"Usage: \S+ {command} ", " ".join(result.output.split())), result.output


def test_the_root_help_lists_every_group_without_loading_it():
    from typer.testing import CliRunner

    from certhub.cli import app

    listed = CliRunner().invoke(app, ["--help"]).output
    for group in {c.split()[0] for c in COMMANDS.replace("\n", " ").split(",")}:
        assert f" {group} " in listed, group
