"""The `certhub` command line."""

from __future__ import annotations

import typer

from certhub.cli import audit, catalog_cmd, clients_cmd, db_cmd, licences_cmd, seal, serve_cmd, signing_cmd

app = typer.Typer(
    help="certhub: e-licence registry and data-sharing exchange hub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(clients_cmd.app, name="clients")
app.add_typer(seal.app, name="seal")
app.add_typer(signing_cmd.app, name="signing")
app.add_typer(audit.app, name="audit")
app.add_typer(licences_cmd.app, name="licences")
app.command("serve")(serve_cmd.serve)
app.command("demo")(serve_cmd.demo)


def main() -> None:
    app()
