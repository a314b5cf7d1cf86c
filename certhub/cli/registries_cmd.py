"""`certhub registries`: the other registries this one recognises (跨省互认,
CERTHUB_RECOGNISED_REGISTRIES) — what is held of their trust lists, and a
fetch now. A running server reads what `refresh` stores within its trust
store's lifetime (30 s)."""

from __future__ import annotations

import typer

from certhub.cli import context

app = typer.Typer(help="Recognised registries (跨省互认): their trust lists.", no_args_is_help=True)

EXIT_NOT_ALL_RECOGNISED = 1


@app.callback()
def _registries() -> None:
    """Other registries whose codes this registry verifies (CERTHUB_RECOGNISED_REGISTRIES)."""


NONE_RECOGNISED = "no other registry is recognised (CERTHUB_RECOGNISED_REGISTRIES is empty; docs/formats.md)"


def _recognition(config):
    """The configured registries, or None (said on stdout) when there are none:
    an empty list is a valid configuration, nothing to list or fetch."""
    from certhub.recognition import Recognition

    if not config.recognised_registries:
        typer.echo(NONE_RECOGNISED)
        return None
    return Recognition(config.recognised_registries, egress=config.egress())


def _show(recognition, session, now) -> bool:
    """Print each registry's state; True when every one has a list that counts now."""
    every = True
    for status in recognition.report(session, now=now):
        typer.echo(f"{status.registry_id}  {status.trust_list_url}")
        fetched = status.fetched_at.isoformat() if status.fetched_at else "never"
        if status.sequence is not None:
            typer.echo(f"  recognised: trust list #{status.sequence}, {status.keys} key(s), "
                       f"expires {status.expires_at.isoformat()}; fetched {fetched}")
        else:
            every = False
            typer.echo(f"  NOT recognised: {status.refusal}; fetched {fetched}")
        if status.last_error:
            typer.echo(f"  last fetch refused or failed: {status.last_error}")
    return every


def _run(step) -> None:
    """Open the configured registries and a session, run `step(recognition,
    session, now)` (True when every registry has a list that counts now), and
    exit 1 when one does not."""
    from storage.base import utcnow

    config = context.settings()
    recognition = _recognition(config)
    if recognition is None:
        return
    try:
        with context.session_scope(config) as session:
            every = step(recognition, session, utcnow())
    finally:
        recognition.close()
    if not every:
        raise typer.Exit(EXIT_NOT_ALL_RECOGNISED)


@app.command("list")
def list_cmd() -> None:
    """Show each recognised registry and the trust list held for it.

    Exit status: 0 when every one has a list that counts now, 1 otherwise."""
    _run(_show)


@app.command("refresh")
def refresh_cmd() -> None:
    """Fetch every recognised registry's trust list now, verify it under its
    pinned root and keep it (a refused one leaves the last good copy), then show them.

    Exit status: 0 when every one has a list that counts now, 1 otherwise."""
    def fetch_then_show(recognition, session, now) -> bool:
        for registry_id, outcome in recognition.refresh(session, now=now).items():
            typer.echo(f"fetched {registry_id}: {outcome}")
        session.flush()
        return _show(recognition, session, now)

    _run(fetch_then_show)
