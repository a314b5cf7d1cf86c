"""`certhub serve` (production) and `certhub demo` (the embedded demo)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
import uvicorn

from certhub.app import create_app
from certhub.cli import context
from certhub.logs import log_config
from certhub.serving import serve_workers
from certhub.settings import SettingsError


class LogLevel(StrEnum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request"),
    log_level: LogLevel = typer.Option(LogLevel.info, case_sensitive=False, help="uvicorn's log level; the app's "
                                       "own lines from warning up, all of them at debug and trace"),
) -> None:
    """Serve the API from settings only (CERTHUB_* variables); no demo data."""
    config = context.settings()
    try:
        config.require_usable_secret()
    except SettingsError as exc:
        context.fail(str(exc), code=2)
    if workers > 1:
        try:
            serve_workers(host=host, port=port, workers=workers, log_level=log_level.value, access_log=access_log)
        except OSError as exc:
            context.fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code=1)
    else:
        uvicorn.run(create_app(config, background_jobs=True), host=host, port=port,
                    log_config=log_config(level=log_level.value), log_level=log_level.value, access_log=access_log)


def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    data_dir: Path = typer.Option(Path("data/demo"), help="Where the demo database lives"),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="Set up the demo data and exit"),
) -> None:
    """Create or upgrade an embedded database, load the demo catalog, serve it."""
    from certhub.demo.seed import prepare_demo

    config = context.settings(demo=True, data_dir=data_dir)
    info = prepare_demo(config)
    base = f"http://{host}:{port}"
    typer.echo(f"certhub demo — database {config.effective_database_url}")
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
    if info.holder is not None:
        holder = info.holder
        typer.echo(f"  demo holder wallet ({holder.name}, demo-only login): curl -s -H 'Content-Type: application/json' "
                   f"-d '{{\"holder_code\": \"{holder.code}\", \"holder_code_type\": \"{holder.code_type}\", "
                   f"\"name\": \"{holder.name}\"}}' {base}/api/v1/holders/dev-login")
        typer.echo(f"    then:        GET {base}/api/v1/holders/me/licences with the session token")
    if prepare_only:
        return
    uvicorn.run(create_app(config, background_jobs=True), host=host, port=port, log_config=log_config())
