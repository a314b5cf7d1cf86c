"""`certhub catalog`: load and export the catalog as YAML."""

from __future__ import annotations

from pathlib import Path

import typer

from catalog.errors import CatalogError
from catalog.service import document
from certhub.cli import context
from identity.errors import IdentityError

app = typer.Typer(help="The catalog: departments, licence types, data items, matters.", no_args_is_help=True)


@app.command("load")
def load_cmd(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Load a catalog YAML file. Loading the same file twice changes nothing."""
    config = context.settings()
    try:
        parsed = document.parse_yaml(file.read_bytes())
        with context.session_scope(config) as session:
            report = document.load(session=session, document=parsed)
    except (CatalogError, IdentityError) as exc:
        context.fail(f"{file}: {exc}")
    typer.echo(f"loaded {file}: {report.summary()}")


@app.command("export")
def export_cmd(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout"),
) -> None:
    """Export the whole catalog (current licence type versions) as YAML."""
    config = context.settings()
    with context.session_scope(config) as session:
        text = document.to_yaml(document.export(session=session))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
