"""The deployment files (deploy/) and the guide (docs/deployment.md) name only
what exists: every `certhub` command line in the systemd units, the compose
file, the image and the guide's shell blocks parses with the real command
line, every CERTHUB_* variable they set is a real setting, and the values the
examples give are accepted by the settings class."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml

from certhub import cli
from certhub.settings import Settings
from tests.environment import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
GUIDE = REPO_ROOT / "docs" / "deployment.md"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
TIMERS = sorted((DEPLOY / "systemd").glob("*.timer"))
COMPOSE = DEPLOY / "compose.yaml"
NGINX_DIR = DEPLOY / "nginx"
ENV_EXAMPLE = DEPLOY / "certhub.env.example"
COMPOSE_ENV_EXAMPLE = DEPLOY / "compose.env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
# Where the units expect the checkout (deploy/systemd/*.service).
INSTALLED_SOURCE = "/opt/certhub/src/"
INSTALLED_SETTINGS = "/etc/certhub/certhub.env"

# Variables the files may set that are not certhub's own: each is read by a
# library certhub runs on (libpq, SoftHSM2, OpenTelemetry, uvicorn), and
# deploy/compose.yaml's postgres service takes the image's own.
OTHER_VARIABLES = {
    "PGPASSFILE", "PGPASSWORD", "SOFTHSM2_CONF", "FORWARDED_ALLOW_IPS",
    "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
    "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD",
}
# Variables deploy/compose.yaml takes from deploy/.env (compose.env.example).
COMPOSE_INTERPOLATED = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")

# Values for the guide's shell variables that are not free text.
GUIDE_SAMPLES = {"DRILL_PORT": "8099"}

ROOT_COMMAND = typer.main.get_command(cli.app)


def parse_certhub(argv: list[str]):
    """The context the real command line builds for `certhub ARGV`, down to
    the command that would run, without running it: unknown commands and
    options, missing arguments and values out of range raise."""
    command = ROOT_COMMAND
    context = command.make_context("certhub", list(argv))
    while hasattr(command, "resolve_command"):  # a group: resolve the next word
        name, command, rest = command.resolve_command(context, [*context._protected_args, *context.args])
        context = command.make_context(name, rest, parent=context)
    return context


def _walk(command, context=None) -> Iterator:
    yield command
    if hasattr(command, "list_commands"):
        context = context or command.make_context("certhub", ["--help"], resilient_parsing=True)
        for name in command.list_commands(context):
            yield from _walk(command.get_command(context, name), context)


def known_variables() -> set[str]:
    """Every CERTHUB_* name certhub reads: the settings' fields, and the
    environment variables the commands' options fall back to."""
    prefix = Settings.model_config["env_prefix"]
    names = {prefix + field.upper() for field in Settings.model_fields}
    for command in _walk(ROOT_COMMAND):
        for parameter in command.params:
            envvar = parameter.envvar
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
    return {name for name in names if name.startswith("CERTHUB_")}


# -- reading the files -------------------------------------------------------

def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def _exec_lines(path: Path) -> list[list[str]]:
    service = _unit(path)["Service"]
    return [shlex.split(service[key]) for key in service if key.startswith("Exec")]


def _certhub_argv(words: list[str]) -> list[str] | None:
    """The arguments after `certhub` when a command line runs it."""
    for index, word in enumerate(words):
        if word == "certhub" or word.endswith("/bin/certhub"):
            return words[index + 1:]
    return None


def _env_file_lines(path: Path, *, commented: bool) -> dict[str, str]:
    """NAME=value lines; with `commented`, also those commented out (#NAME=value)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#?)([A-Z_][A-Z0-9_]*)=(.*)", line.strip())
        if match and (commented or not match.group(1)):
            found[match.group(2)] = match.group(3)
    return found


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _compose_services() -> dict[str, dict]:
    return _compose()["services"]


def _compose_certhub_commands() -> list[tuple[str, list[str]]]:
    return [(name, service["command"]) for name, service in _compose_services().items()
            if service.get("entrypoint") == ["certhub"]]


def _dockerfile_command() -> list[str]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    entrypoint = yaml.safe_load(re.search(r"^ENTRYPOINT (.+)$", text, re.MULTILINE).group(1))
    default = yaml.safe_load(re.search(r"^CMD (.+)$", text, re.MULTILINE).group(1))
    return [*entrypoint, *default]


def _guide_certhub_lines() -> list[str]:
    """Each line of the guide's sh blocks that runs `certhub …` (after any VAR=value assignments)."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    lines = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words = words[1:]
            if words and words[0] == "certhub":
                lines.append(line)
    return lines


# -- the tests ---------------------------------------------------------------

def test_the_parser_refuses_what_the_cli_refuses():
    """The check below can fail: misspelt commands and options, values out of range, missing options."""
    for wrong in (["db", "upgrad"], ["serve", "--wrkers", "2"], ["serve", "--workers", "65"],
                  ["clients", "create", "--department", "X"], ["audit", "verify", "--url", "https://x/log/"]):
        with pytest.raises(typer.TyperException):
            parse_certhub(wrong)
    assert parse_certhub(["serve", "--workers", "4"]).params["workers"] == 4


def test_every_unit_runs_a_real_command():
    assert {path.name for path in UNITS} >= {"certhub.service", "certhub-migrate.service"}
    commands = {}
    for path in UNITS:
        for words in _exec_lines(path):
            argv = _certhub_argv(words)
            if argv is not None:
                commands[path.name] = parse_certhub(argv).command.name
            elif words[0].startswith(INSTALLED_SOURCE):  # one of deploy/'s own scripts
                script = REPO_ROOT / words[0].removeprefix(INSTALLED_SOURCE)
                assert script.is_file() and os.access(script, os.X_OK), f"{path.name}: {words[0]}"
            else:
                assert Path(words[0]).is_absolute(), f"{path.name}: {words[0]} (systemd wants absolute paths)"
    assert commands["certhub.service"] == "serve"
    assert commands["certhub-migrate.service"] == "upgrade"
    assert commands["certhub-expire.service"] == "expire"
    for path in TIMERS:  # each timer starts a service that exists
        assert (path.with_suffix(".service")).is_file(), path.name
        assert "OnCalendar" in _unit(path)["Timer"]


def test_systemd_accepts_the_units(tmp_path):
    """systemd's own parser: unknown keys, bad values and bad calendar specs are reported.
    The programs the units run are installed under /opt/certhub, not here (the test above
    checks them against the checkout)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is not installed (Debian: apt-get install systemd)"
    for path in [*UNITS, *TIMERS]:
        shutil.copy(path, tmp_path / path.name)
    result = subprocess.run([analyze, "verify", "--man=no", *sorted(p.name for p in tmp_path.iterdir())],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    not_here = re.compile(r"[\w.-]+\.service: Command /opt/certhub/\S+ is not executable: No such file or directory")
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if not not_here.fullmatch(line)]
    assert not complaints, complaints


def _nginx_test(tmp_path: Path, site: str) -> subprocess.CompletedProcess:
    """``nginx -t`` of the site as the guide installs it (with the host's upstream), its
    certificate paths pointed at a self-signed pair: nginx reads them while it checks."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).is_file(), "nginx is not installed (Debian: apt-get install nginx-light)"
    tls = tmp_path / "tls"
    tls.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=certhub.fujian.gov.example", "-days", "1", "-keyout", str(tls / "privkey.pem"),
                    "-out", str(tls / "fullchain.pem")], check=True, capture_output=True, timeout=60)
    (tmp_path / "certhub.conf").write_text(site.replace("/etc/nginx/tls/", f"{tls}/"), encoding="utf-8")
    shutil.copy(NGINX_DIR / "upstream-host.conf", tmp_path / "upstream-host.conf")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/upstream-host.conf;\n  include {tmp_path}/certhub.conf;\n}}\n",
        encoding="utf-8")
    return subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)


def test_nginx_accepts_the_proxy_configuration(tmp_path):
    site = (NGINX_DIR / "certhub.conf").read_text(encoding="utf-8")
    checked = _nginx_test(tmp_path / "real", site)
    assert checked.returncode == 0, checked.stderr
    # The check can fail: a directive this nginx does not know is refused.
    broken = _nginx_test(tmp_path / "broken", site.replace("client_max_body_size 2m;", "client_max_body_sise 2m;"))
    assert broken.returncode != 0 and "client_max_body_sise" in broken.stderr


def test_the_units_read_the_settings_file_the_guide_installs():
    for path in UNITS:
        service = _unit(path)["Service"]
        assert service["EnvironmentFile"] == INSTALLED_SETTINGS, path.name
        assert service["User"] == "certhub", path.name
    assert f"install -m 0640 -o root -g certhub certhub.env.example {INSTALLED_SETTINGS}" \
        in ENV_EXAMPLE.read_text(encoding="utf-8")


def test_the_compose_file_is_well_formed_and_runs_real_commands():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "certhub", "nginx"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"].startswith("redis:")
    commands = {name: parse_certhub(argv).command.name for name, argv in _compose_certhub_commands()}
    assert commands == {"migrate": "upgrade", "certhub": "serve"}
    # certhub starts only after the schema is migrated, and the migration only on a healthy database.
    assert services["certhub"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    # Every named volume a service mounts is declared, every bind mount exists.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), volume
            else:
                assert source in compose["volumes"], volume
        for key in service.get("depends_on", {}):
            assert key in services
    # The image's own default command is a real one too.
    argv = _certhub_argv(_dockerfile_command())
    assert argv is not None and parse_certhub(argv).command.name == "serve"


def test_every_variable_the_files_set_is_read_by_something():
    real = known_variables()
    assert {"CERTHUB_DATABASE_URL", "CERTHUB_SECRET_KEY", "CERTHUB_LOG_FORMAT", "CERTHUB_AUDIT_CLIENT_SECRET"} <= real
    set_by = {}
    for path in UNITS:
        service = _unit(path)["Service"]
        for assignment in shlex.split(service.get("Environment", "")):
            set_by[assignment.split("=", 1)[0]] = path.name
    for name in _env_file_lines(ENV_EXAMPLE, commented=True):
        set_by[name] = ENV_EXAMPLE.name
    for service_name, service in _compose_services().items():
        for name in service.get("environment", {}):
            set_by[name] = f"compose.yaml {service_name}"
    for name in re.findall(r"^ENV ([A-Z_][A-Z0-9_]*)=", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE):
        set_by[name] = DOCKERFILE.name
    unknown = {name: where for name, where in set_by.items()
               if name not in OTHER_VARIABLES and name not in real}
    assert not unknown, f"not read by certhub or its libraries: {unknown}"
    # What compose interpolates is what compose.env.example gives.
    interpolated = set(COMPOSE_INTERPOLATED.findall(COMPOSE.read_text(encoding="utf-8")))
    assert interpolated == set(_env_file_lines(COMPOSE_ENV_EXAMPLE, commented=False))


@pytest.fixture
def clean_environment(monkeypatch):
    """No CERTHUB_* variable of the test run decides what the settings read."""
    for name in list(os.environ):
        if name.startswith("CERTHUB_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("with_commented", [False, True], ids=["as-shipped", "every-option-on"])
def test_the_settings_example_is_accepted_by_the_settings(tmp_path, clean_environment, with_commented):
    values = _env_file_lines(ENV_EXAMPLE, commented=with_commented)
    env_file = tmp_path / "certhub.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()), encoding="utf-8")
    settings = Settings(_env_file=env_file)
    assert settings.database_url == values["CERTHUB_DATABASE_URL"]
    assert settings.registry_id.startswith("https://")
    assert str(settings.data_dir) == values["CERTHUB_DATA_DIR"]
    assert (settings.key_token_module is not None) == with_commented
    # The shipped secret is a placeholder a server refuses to start with.
    with pytest.raises(Exception, match="placeholder"):
        settings.require_usable_secret()


def test_the_compose_environment_is_accepted_by_the_settings(clean_environment):
    given = {"DB_PASSWORD": "x", "CERTHUB_SECRET_KEY": "s" * 48, "CERTHUB_REGISTRY_ID": "https://certhub.example"}
    services = _compose_services()
    for name, _argv in _compose_certhub_commands():
        environment = {key: COMPOSE_INTERPOLATED.sub(lambda match: given[match.group(1)], str(value))
                       for key, value in services[name]["environment"].items()}
        settings = Settings(**{key.removeprefix("CERTHUB_").lower(): value
                               for key, value in environment.items() if key.startswith("CERTHUB_")})
        settings.require_usable_secret()
        assert settings.database_url.startswith("postgresql://") and settings.redis_url.startswith("redis://")


def test_the_guide_shows_only_real_commands_and_every_file():
    lines = _guide_certhub_lines()
    parsed = set()
    for line in lines:
        # The guide's shell variables, given values of their kind (the drill runs them with real ones).
        filled = re.sub(r"\$([A-Z_][A-Z0-9_]*)", lambda match: GUIDE_SAMPLES.get(match.group(1), "x"), line)
        argv = _certhub_argv(shlex.split(filled, comments=True))
        try:
            parse_certhub(argv)
        except typer.TyperException as error:
            message = error.format_message()
            # An operator's own file (the catalog under /etc/certhub) does not exist here; all else must parse.
            if not (re.search(r"'/etc/certhub/[^']+' does not exist", message)):
                pytest.fail(f"docs/deployment.md: {line!r}: {message}")
        parsed.add(" ".join(argv[:2]))
    assert parsed >= {"db current", "db upgrade", "catalog load", "signing init", "clients create",
                      "serve --host", "audit verify"}, parsed
    guide = GUIDE.read_text(encoding="utf-8")
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            assert str(path.relative_to(REPO_ROOT)) in guide, f"the guide does not mention {path.relative_to(REPO_ROOT)}"
    assert "[`docs/deployment.md`](docs/deployment.md)" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
