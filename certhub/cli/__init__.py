"""The `certhub` command line."""

from __future__ import annotations

import typer

from certhub.cli import audit, catalog_cmd, clients_cmd, db_cmd, licences_cmd, seal, serve_cmd, signing_cmd
from certhub.cli import webhooks_cmd
from certhub.cli import imports_cmd
from certhub.cli import verify_cmd
from certhub.cli import registries_cmd

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
imports_cmd.register(licences_cmd.app)
app.add_typer(licences_cmd.app, name="licences")
app.add_typer(webhooks_cmd.app, name="webhooks")
app.command("serve")(serve_cmd.serve)
app.command("demo")(serve_cmd.demo)
app.command("verify")(verify_cmd.verify)
app.add_typer(registries_cmd.app, name="registries")


def main() -> None:
    app()
