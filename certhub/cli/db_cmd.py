"""`certhub db`: the schema."""

from __future__ import annotations

import typer

from certhub.cli import context
from certhub.db import create_db_engine, current_revision, upgrade

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("heads", help="Target revision (default: every head)")) -> None:
    """Create or upgrade the schema by running the migrations."""
    config = context.settings()
    engine = create_db_engine(config.effective_database_url, run_jobs=True)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    finally:
        engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    typer.echo(f"database {url}: {before or 'empty'} -> {after}")


@app.command("current")
def current_cmd() -> None:
    """Print the schema revision of the database."""
    config = context.settings()
    engine = create_db_engine(config.effective_database_url, run_jobs=True)
    try:
        typer.echo(current_revision(engine) or "empty")
    finally:
        engine.dispose()
