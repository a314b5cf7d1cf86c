"""`certhub clients`: department API clients and their keys (private_key_jwt)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from catalog.errors import CatalogError
from certhub.cli import context
from identity import clients, token_revocations
from identity.client_assertions import AUTH_METHODS, CLIENT_SECRET, key_state
from identity.errors import IdentityError
from identity.scopes import KNOWN_SCOPES
from storage.base import utcnow
from storage.cache import create_cache

app = typer.Typer(help="API clients of departments' systems (OAuth 2.0 client credentials).", no_args_is_help=True)


@app.command("create")
def create_cmd(
    department: str = typer.Option(..., "--department", "-d", help="The department's USCC"),
    name: str = typer.Option(..., "--name", "-n", help="What system this client is"),
    scope: list[str] = typer.Option(..., "--scope", "-s", help=f"Repeatable; one of: {', '.join(KNOWN_SCOPES)}"),
    auth: str = typer.Option(CLIENT_SECRET, "--auth", help=f"Token endpoint authentication: {' | '.join(AUTH_METHODS)}"),
) -> None:
    """Create a client; print its secret (shown this once only), or, for
    private_key_jwt, nothing secret: add its public key next."""
    config = context.settings()
    try:
        with context.session_scope(config) as session:
            new = clients.create(session=session, department_code=department, name=name, scopes=scope,
                                 auth_method=auth)
    except (CatalogError, IdentityError, ValueError) as exc:
        context.fail(str(exc))
    typer.echo(f"client_id:     {new.client_id}")
    typer.echo(f"auth_method:   {new.auth_method}")
    typer.echo(f"scopes:        {' '.join(new.scopes)}")
    if new.client_secret is not None:
        typer.echo(f"client_secret: {new.client_secret}")
        typer.echo("The secret is shown only now; store it in the department system's secret store.")
    else:
        typer.echo(f"Next: certhub clients add-key {new.client_id} --public-key FILE")


@app.command("list")
def list_cmd(department: str | None = typer.Option(None, "--department", "-d")) -> None:
    """List clients (never their secrets)."""
    config = context.settings()
    with context.session_scope(config) as session:
        for client in clients.list_(session=session, department_code=department):
            state = "active" if client.active else "disabled"
            typer.echo(f"{client.client_id}\t{client.department_code}\t{state}\t{client.auth_method}\t"
                       f"{' '.join(client.scopes)}\t{client.name}")


def _run(action):
    config = context.settings()
    try:
        with context.session_scope(config) as session:
            return action(session)
    except (CatalogError, IdentityError, ValueError) as exc:
        context.fail(str(exc))


@app.command("add-key")
def add_key_cmd(
    client_id: str = typer.Argument(..., help="The client's id"),
    public_key: Path = typer.Option(..., "--public-key", "-k", exists=True, dir_okay=False, readable=True,
                                    help="PEM public key or public JWK (P-256 or Ed25519)"),
    kid: str | None = typer.Option(None, "--kid", help="Key id; default: the JWK's kid, else its RFC 7638 thumbprint"),
) -> None:
    """Register a public key the client signs its token requests with (private_key_jwt)."""
    text = public_key.read_text(encoding="utf-8", errors="replace")
    key = _run(lambda session: clients.add_key(session=session, client_id=client_id, public_key=text, kid=kid))
    typer.echo(f"added key {key.kid} ({key.algorithm}, thumbprint {key.thumbprint}) to {client_id}")


@app.command("keys")
def keys_cmd(client_id: str = typer.Argument(...)) -> None:
    """List a client's keys: kid, algorithm, state, thumbprint, dates."""

    def listing(session):
        clients.get_or_raise(session=session, client_id=client_id)
        now = utcnow()
        return [
            f"{k.kid}\t{k.algorithm}\t{key_state(k, now=now)}\t{k.thumbprint}\tadded {k.created_at:%Y-%m-%d %H:%M}"
            + (f"\tuntil {k.not_after:%Y-%m-%d %H:%M}" if k.not_after else "")
            + (f"\trevoked: {k.revocation_reason}" if k.revoked_at else "")
            for k in clients.list_keys(session=session, client_id=client_id)
        ]

    for line in _run(listing):
        typer.echo(line)


@app.command("retire-key")
def retire_key_cmd(
    client_id: str = typer.Argument(...),
    kid: str = typer.Argument(...),
    at: datetime | None = typer.Option(None, "--at", help="When it stops working (ISO time, UTC if no offset); default now"),
) -> None:
    """End a key after rotating to its successor."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=utcnow().tzinfo)
    key = _run(lambda session: clients.retire_key(session=session, client_id=client_id, kid=kid, at=at))
    typer.echo(f"key {kid} of {client_id} stops working at {key.not_after.isoformat()}")


@app.command("revoke-key")
def revoke_key_cmd(
    client_id: str = typer.Argument(...),
    kid: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. 'private key exposed')"),
) -> None:
    """Refuse a (compromised) key at once."""
    _run(lambda session: clients.revoke_key(session=session, client_id=client_id, kid=kid, reason=reason))
    typer.echo(f"key {kid} of {client_id} is revoked; {_tell_servers()}")


@app.command("use-private-key-jwt")
def use_private_key_jwt_cmd(client_id: str = typer.Argument(...)) -> None:
    """Switch a secret client to private_key_jwt; its secret is erased for good."""
    _run(lambda session: clients.use_private_key_jwt(session=session, client_id=client_id))
    typer.echo(f"{client_id} now authenticates with private_key_jwt only; its secret is erased; {_tell_servers()}")


@app.command("disable")
def disable_cmd(client_id: str = typer.Argument(...)) -> None:
    """Disable a client for good: no more tokens, and those it holds stop counting."""
    _run(lambda session: clients.deactivate(session=session, client_id=client_id))
    typer.echo(f"{client_id} is disabled; {_tell_servers()}")


def _tell_servers() -> str:
    """Ask the running servers to read the withdrawn credentials again now,
    through Redis; without it they read them on their next poll. Says which."""
    config = context.settings()
    poll = f"{config.token_revocation_poll_seconds:g} s"
    if not config.redis_url:
        return f"the access tokens already issued stop counting within {poll} (the servers' poll)"
    try:
        cache = create_cache(config.redis_url)
        try:
            cache.publish(token_revocations.TOPIC, "")
        finally:
            cache.close()
    except Exception as exc:  # the change is committed; the poll carries it
        return f"the servers could not be told ({type(exc).__name__}): the access tokens already issued stop counting within {poll}"
    return "the access tokens already issued stop counting now"
