"""`certhub witness serve`: an independent C2SP tlog-witness for logs it is told to follow.

It shares nothing with certhub's server: its own key and SQLite state in its
own directory, its own process. It reads no CERTHUB_* setting and no
database URL; the logs it accepts and their keys are its operator's choice.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from certhub.bodylimit import BodyLimit
from signing.transparency.errors import MalformedError
from signing.transparency.note import NoteVerifier
from signing.transparency.witness import (
    ADD_CHECKPOINT_PATH,
    MAX_REQUEST_BYTES,
    REFUSAL_STATUS,
    SIZE_CONTENT_TYPE,
    Witness,
    WitnessRefusal,
)
from signing.transparency.witness_store import SqliteWitnessStore, load_or_create_cosigner

app = typer.Typer(help="An independent witness that cosigns consistent checkpoints (C2SP tlog-witness).")
log = logging.getLogger("certhub.witness")
_MAX_CONFIG_BYTES = 1 << 16


@app.callback()
def _witness() -> None:
    """An independent witness that cosigns consistent checkpoints (C2SP tlog-witness)."""


@app.command()
def serve(
    state_dir: Annotated[Path, typer.Option("--state-dir", help="The witness's own directory: key, state, evidence.")],
    name: Annotated[str, typer.Option("--name", help="The witness's key name, e.g. witness.example.org/w1.")],
    log_key: Annotated[
        list[str] | None,
        typer.Option("--log-key", help="A log's verifier key <origin>+<id>+<key>; the log's origin is its key name. "
                                       "Repeat for more logs or a rotated key."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A file of log verifier keys, one a line (# comments).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 7380,
) -> None:
    """Serve POST /add-checkpoint. The witness key is generated into --state-dir on
    first start; its vkey (what log clients pin) is printed at every start."""
    keys = list(log_key or []) + (_read_config(config) if config is not None else [])
    try:
        verifiers = [NoteVerifier.from_key_string(key) for key in keys]
        cosigner = load_or_create_cosigner(state_dir, name=name)
    except (MalformedError, ValueError, OSError) as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if not verifiers:
        typer.secho("error: give at least one --log-key or a --config with log keys", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    logs: dict[str, list[NoteVerifier]] = {}
    for verifier in verifiers:
        logs.setdefault(verifier.name, []).append(verifier)
    store = SqliteWitnessStore(state_dir)
    witness = Witness(cosigner=cosigner, logs=logs, store=store)
    typer.echo(f"witness vkey: {cosigner.verifier.to_key_string()}", err=True)
    typer.echo(f"following {len(logs)} log(s): {', '.join(sorted(logs))}", err=True)
    try:
        uvicorn.run(witness_app(witness), host=host, port=port, log_level="warning", access_log=False)
    finally:
        store.close()


def witness_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()  # bounded by BodyLimit below
        try:
            # SQLite and Ed25519 off the event loop; the store serialises requests.
            answer = await run_in_threadpool(witness.add_checkpoint, body)
        except WitnessRefusal as refusal:
            return _refusal(refusal)
        return Response(answer, media_type="text/plain; charset=utf-8")

    async def vkey(_: Request) -> Response:
        return PlainTextResponse(witness.cosigner.verifier.to_key_string() + "\n")

    # The body limit every certhub server has (413 before the body is read past it), at the
    # largest add-checkpoint request the protocol allows.
    return Starlette(middleware=[Middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)], routes=[
        Route("/" + ADD_CHECKPOINT_PATH, add_checkpoint, methods=["POST"]),
        Route("/vkey", vkey, methods=["GET"]),
    ])


def _refusal(refusal: WitnessRefusal) -> Response:
    status = REFUSAL_STATUS.get(refusal.code, 400)
    # Refusals name their cause by code only: fork evidence stays on disk.
    log.warning("add-checkpoint refused: %s", refusal.code)
    if refusal.code == "size_conflict" and refusal.stored_size is not None:
        # SPEC: C2SP tlog-witness — 409 carries the witnessed size as text/x.tlog.size.
        # Exactly this type, without the charset Starlette would add to a text/* media type.
        return Response(f"{refusal.stored_size}\n", status_code=409, headers={"Content-Type": SIZE_CONTENT_TYPE})
    return PlainTextResponse(f"{refusal.code}: {refusal.message}\n", status_code=status)


def _read_config(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read(_MAX_CONFIG_BYTES + 1)
    except OSError as error:
        typer.secho(f"error: cannot read --config: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if len(text) > _MAX_CONFIG_BYTES:
        typer.secho("error: --config is too large", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
