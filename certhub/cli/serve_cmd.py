"""`certhub serve` (production) and `certhub demo` (the embedded demo)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from certhub.cli import context
from certhub.demo.state import NotADemoDatabase, read_state, record_demo
from certhub.settings import SettingsError


class LogLevel(StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


class LogFormat(StrEnum):
    json = "json"
    text = "text"


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request"),
    log_level: LogLevel = typer.Option(LogLevel.info, case_sensitive=False, help="uvicorn's log level; the app's "
                                       "own lines from warning up, all of them at debug and trace"),
    log_format: LogFormat = typer.Option(LogFormat.json, case_sensitive=False, envvar="CERTHUB_LOG_FORMAT",
                                         help="json: one JSON object per line, one access line per request with "
                                              "its route template, status, duration and request id; text: "
                                              "uvicorn's lines"),
) -> None:
    """Serve the API from settings only (CERTHUB_* variables); no demo data.

    GET /healthz is liveness: it answers while the process runs. GET /readyz
    is readiness: 200 when the database, Redis (when configured) and the
    authorized-use log's publication are usable, else 503 naming what
    failed. GET /metrics serves Prometheus metrics to a client token with
    the metrics:read scope (every worker's, through PROMETHEUS_MULTIPROC_DIR,
    a fresh directory under the data directory). Traces: set
    OTEL_TRACES_EXPORTER=otlp and OTEL_EXPORTER_OTLP_ENDPOINT (docs/monitoring.md)."""
    config = context.settings(follow_demo=False)
    demo_state = read_state(config.data_dir)
    if demo_state is not None and demo_state.database_url == config.effective_database_url:
        context.fail(f"the database {demo_state.database_url} is the demo's: serve it with `certhub demo`, or set "
                     "CERTHUB_DATA_DIR (or CERTHUB_DATABASE_URL) to a production database", code=2)
    try:
        config.require_usable_secret()
    except SettingsError as exc:
        context.fail(str(exc), code=2)
    # Every worker counts into files here, before prometheus-client is imported
    # (it reads the variable at import); the one answering /metrics adds them up.
    from certhub.metrics_dir import multiprocess_metrics

    with multiprocess_metrics(config.data_dir):
        _serve(config, host=host, port=port, workers=workers, access_log=access_log, log_level=log_level,
               log_format=log_format)


def _serve(config, *, host: str, port: int, workers: int, access_log: bool, log_level: LogLevel,
           log_format: LogFormat) -> None:
    # Imported here, not at the top: the CLI's other commands never load the server.
    import uvicorn

    from certhub.logs import log_config
    from certhub.serving import serve_workers

    if workers > 1:
        try:
            serve_workers(config, host=host, port=port, workers=workers, log_level=log_level.value,
                          access_log=access_log, log_format=log_format.value)
        except OSError as exc:
            context.fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code=1)
    else:
        from certhub.app import create_app

        uvicorn.run(create_app(config, background_jobs=True), host=host, port=port,
                    log_config=log_config(level=log_level.value, log_format=log_format.value, access_log=access_log),
                    log_level=log_level.value, access_log=access_log)


def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    data_dir: Path | None = typer.Option(
        None, help="Where the demo database lives (default: CERTHUB_DATA_DIR, else ./data, as for every command)"),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="Set up the demo data and exit"),
    witness: bool = typer.Option(True, "--witness/--no-witness",
                                 help="Run one witness (a child process, state under the data directory) that "
                                      "cosigns the log's checkpoints"),
) -> None:
    """Create or upgrade an embedded database, load the demo catalog, serve it."""
    from pydantic import SecretStr

    from certhub.db import create_db_engine, current_revision
    from certhub.demo.seed import prepare_demo

    # The demo's registry id is the URL it serves, so the status URIs in its QR codes resolve.
    base = f"http://{host}:{port}"
    overrides = {} if data_dir is None else {"data_dir": data_dir}
    config = context.settings(follow_demo=False, demo=True, registry_id=base, **overrides)
    engine = create_db_engine(config.effective_database_url, run_jobs=True)
    try:
        has_schema = current_revision(engine) is not None
    finally:
        engine.dispose()
    try:
        # The same data directory as every other command, marked as the demo's with its own secret.
        state = record_demo(config.data_dir, database_url=config.effective_database_url, registry_id=base,
                            has_schema=has_schema)
    except NotADemoDatabase as exc:
        context.fail(str(exc), code=2)
    config = config.model_copy(update={"secret_key": SecretStr(state.secret_key)})
    info = prepare_demo(config)
    data = config.data_dir.resolve()
    typer.echo(f"certhub demo — database {config.effective_database_url}")
    typer.echo(f"  data directory: {data} (other `certhub` commands run here use it in demo mode; "
               f"elsewhere: export CERTHUB_DATA_DIR={data})")
    typer.echo(f"  catalog: {info.summary}")
    typer.echo(f"  home:          {base}/")
    typer.echo(f"  API docs:      {base}/docs")
    typer.echo(f"  licence types: {base}/api/v1/catalog/licence-types")
    typer.echo(f"  matters:       {base}/api/v1/catalog/matters")
    typer.echo(f"  demo API client (all scopes, new secret each start): {info.client_id} / {info.client_secret}")
    typer.echo(
        f"  get a token:   curl -s -u {info.client_id}:{info.client_secret} "
        f"-d grant_type=client_credentials {base}/api/v1/oauth/token"
    )
    if info.issuer is not None:
        issuer = info.issuer
        typer.echo(f"  issuing client (a client acts as its department; to issue, use an issuer's client): "
                   f"{issuer.client_id} / {issuer.client_secret}")
        typer.echo(f"    department:  {issuer.department_name} ({issuer.department_code}), issues "
                   f"{', '.join(issuer.type_names)}")
    if info.holder is not None:
        holder = info.holder
        typer.echo(f"  demo holder wallet ({holder.name}, demo-only login): curl -s -H 'Content-Type: application/json' "
                   f"-d '{{\"holder_code\": \"{holder.code}\", \"holder_code_type\": \"{holder.code_type}\", "
                   f"\"name\": \"{holder.name}\"}}' {base}/api/v1/holders/dev-login")
        typer.echo(f"    then:        GET {base}/api/v1/holders/me/licences with the session token")
    from certhub.web.demo import demo_staff

    staff = ", ".join(f"{entry['staff_id']} ({'/'.join(entry['roles'])})" for entry in demo_staff())
    typer.echo(f"  demo staff (counter and audit pages sign in as a person; demo-only sign-in): {staff}")
    typer.echo(f"    or:          curl -s -H 'Content-Type: application/json' -d '{{\"staff_id\": "
               f"\"{demo_staff()[0]['staff_id']}\"}}' {base}/web/api/demo/staff-session")
    typer.echo(f"  trust-root key to pin (base64url DER SubjectPublicKeyInfo): {info.root_public_key_b64url}")
    typer.echo(f"  verify a QR:   certhub verify 'EL1:…' --trust-list {base}/.well-known/certhub/trust-list "
               f"--root-key {info.root_public_key_b64url}")
    if prepare_only:
        return
    if not witness:
        _serve_demo(config, host=host, port=port)
        return
    from certhub.demo.witness import running_witness

    with running_witness(config) as demo_witness:
        typer.echo(f"  witness (cosigns each checkpoint; state in {demo_witness.state_dir}):")
        typer.echo(f"    vkey:        {demo_witness.setting.vkey}")
        typer.echo(f"  verify the log: certhub audit verify --url {base}/log/ --key \"$(curl -s {base}/log/verifier-key)\" "
                   f"--witness {demo_witness.setting.vkey}")
        config = config.model_copy(update={"auditlog_witnesses": [demo_witness.setting], "auditlog_witness_quorum": 1})
        _serve_demo(config, host=host, port=port)


def _serve_demo(config, *, host: str, port: int) -> None:
    import uvicorn

    from certhub.app import create_app
    from certhub.logs import log_config

    uvicorn.run(create_app(config, background_jobs=True), host=host, port=port, log_config=log_config())
