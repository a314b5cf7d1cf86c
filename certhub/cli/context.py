"""What every command needs: settings, an engine, a session; and one way to
report errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from certhub.db import create_db_engine, create_sessionmaker, current_revision
from certhub.settings import Settings


def settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        fail(f"invalid configuration: {exc}", code=2)
        raise  # unreachable


def fail(message: str, *, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def session_scope(config: Settings, *, require_schema: bool = True) -> Iterator[Session]:
    """One unit of work: committed when the block succeeds, rolled back otherwise."""
    engine = create_db_engine(config.effective_database_url)
    try:
        if require_schema and current_revision(engine) is None:
            fail("the database has no schema yet; run `certhub db upgrade` first", code=2)
        session = create_sessionmaker(engine)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
    finally:
        engine.dispose()
