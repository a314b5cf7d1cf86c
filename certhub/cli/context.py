"""What every command needs: settings, an engine, a session; and one way to
report errors.

Light on imports (settings only): the database modules load when a command
opens a session, so commands that never touch the database start fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from pydantic import SecretStr, ValidationError

from certhub.demo.state import NotADemoDatabase, read_state
from certhub.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class CliSettings(Settings):
    """Settings as a command uses them: asking for the key-encryption
    secret outside demo mode without a usable one is a configuration error
    (one line, exit 2), not a failure deep inside the key store."""

    def secret_bytes(self) -> bytes:
        self.require_usable_secret()
        return super().secret_bytes()


def settings(*, follow_demo: bool = True, **overrides: object) -> Settings:
    """Settings from CERTHUB_* variables. With `follow_demo`, a data
    directory `certhub demo` made (certhub.demo.state) puts the command in
    demo mode with the demo's secret and registry id, as long as the command
    uses the demo's database."""
    try:
        config = CliSettings(**overrides)
        state = read_state(config.data_dir) if follow_demo else None
    except ValidationError as exc:
        fail(f"invalid configuration: {exc}", code=2)
        raise  # unreachable
    except NotADemoDatabase as exc:
        fail(str(exc), code=2)
        raise  # unreachable
    if state is not None and state.database_url == config.effective_database_url:
        config = config.model_copy(update={"demo": True, "secret_key": SecretStr(state.secret_key),
                                           "registry_id": state.registry_id})
    return config


def fail(message: str, *, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def no_schema_message(config: Settings) -> str:
    where = ("CERTHUB_DATABASE_URL" if config.database_url else
             f"CERTHUB_DATA_DIR={config.data_dir.resolve()}")
    return (f"the database has no schema yet ({where}); to use the demo's database, run the command where "
            "`certhub demo` ran or set CERTHUB_DATA_DIR to the data directory it printed; "
            "to create a new database, run `certhub db upgrade`")


@contextmanager
def session_scope(config: Settings, *, require_schema: bool = True) -> Iterator[Session]:
    """One unit of work: committed when the block succeeds, rolled back otherwise."""
    from certhub.db import create_db_engine, create_sessionmaker, current_revision

    engine = create_db_engine(config.effective_database_url, run_jobs=True)
    try:
        if require_schema and current_revision(engine) is None:
            fail(no_schema_message(config), code=2)
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
