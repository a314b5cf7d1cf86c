"""`certhub clients`: department API clients."""

from __future__ import annotations

import typer

from catalog.errors import CatalogError
from catalog.scopes import KNOWN_SCOPES
from catalog.service import clients
from certhub.cli import context

app = typer.Typer(help="API clients of departments' systems (OAuth 2.0 client credentials).", no_args_is_help=True)


@app.command("create")
def create_cmd(
    department: str = typer.Option(..., "--department", "-d", help="The department's USCC"),
    name: str = typer.Option(..., "--name", "-n", help="What system this client is"),
    scope: list[str] = typer.Option(..., "--scope", "-s", help=f"Repeatable; one of: {', '.join(KNOWN_SCOPES)}"),
) -> None:
    """Create a client and print its secret (shown this once only)."""
    config = context.settings()
    try:
        with context.session_scope(config) as session:
            new = clients.create(session=session, department_code=department, name=name, scopes=scope)
    except (CatalogError, ValueError) as exc:
        context.fail(str(exc))
    typer.echo(f"client_id:     {new.client_id}")
    typer.echo(f"client_secret: {new.client_secret}")
    typer.echo(f"scopes:        {' '.join(new.scopes)}")
    typer.echo("The secret is shown only now; store it in the department system's secret store.")


@app.command("list")
def list_cmd(department: str | None = typer.Option(None, "--department", "-d")) -> None:
    """List clients (never their secrets)."""
    config = context.settings()
    with context.session_scope(config) as session:
        for client in clients.list_(session=session, department_code=department):
            state = "active" if client.active else "disabled"
            typer.echo(f"{client.client_id}\t{client.department_code}\t{state}\t{' '.join(client.scopes)}\t{client.name}")
