"""`certhub webhooks`: the push subscriptions' dispatcher and delivery worker."""

from __future__ import annotations

import signal
import threading

import typer

from certhub.cli import context
from certhub.db import create_db_engine, create_sessionmaker
from certhub.settings import SettingsError
from exchange.subscriptions.callbacks import CallbackPolicy
from exchange.subscriptions.dispatcher import WebhookWorker

app = typer.Typer(help="Push subscriptions: dispatch licence events and deliver signed webhooks.", no_args_is_help=True)


@app.command("run")
def run_cmd(
    once: bool = typer.Option(False, "--once", help="One round (dispatch, then deliver what is due) and exit"),
    interval: float = typer.Option(5.0, "--interval", min=0.5, max=3600, help="Seconds between rounds"),
) -> None:
    """Dispatch licence events to subscriptions and deliver due webhooks,
    every --interval seconds until interrupted (the app does the same in a
    background thread under `certhub serve`)."""
    config = context.settings()
    try:
        config.require_usable_secret()
    except SettingsError as exc:
        context.fail(str(exc), code=2)
    engine = create_db_engine(config.effective_database_url, run_jobs=True)
    worker = WebhookWorker(
        sessions=create_sessionmaker(engine), key_secret=config.secret_bytes(), registry_id=config.registry_id,
        policy=CallbackPolicy.for_deployment(demo=config.demo, allow_loopback=config.webhooks_allow_loopback),
        egress=config.egress(),
    )
    try:
        if once:
            dispatched, delivered = worker.run_once()
            typer.echo(f"events read: {dispatched.events}; deliveries queued: {dispatched.enqueued}; "
                       f"delivered: {len(delivered.delivered)}; retrying: {len(delivered.retrying)}; "
                       f"dead: {len(delivered.dead)}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        typer.echo(f"webhook worker running every {interval:g} s; Ctrl-C to stop")
        try:
            worker.run(interval_s=interval, stop=stop)
        except KeyboardInterrupt:
            stop.set()
    finally:
        worker.close()
        engine.dispose()
