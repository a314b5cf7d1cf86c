"""Engines for departments' own databases (not certhub's): any SQLAlchemy
URL, the URL itself possibly taken from an environment variable so that
passwords stay out of configuration files."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.errors import AdapterConfigError


def resolve_url(*, url: str | None, url_env: str | None, environ: Mapping[str, str], where: str) -> str:
    if url is not None:
        return url
    value = environ.get(url_env or "")
    if not value:
        raise AdapterConfigError(f"{where}: environment variable {url_env} is not set")
    return value


def create_external_engine(url: str, *, connect_timeout: int, where: str, pre_ping: bool = True) -> Engine:
    """`pre_ping=False` when the caller checks pooled connections itself,
    under a deadline of its own: the pool's ping has none and would wait
    forever on a server that stopped answering."""
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver the project ships.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args: dict = {}
    if url.startswith("postgresql"):
        connect_args["connect_timeout"] = connect_timeout
    elif url.startswith("sqlite"):
        connect_args["timeout"] = connect_timeout
        connect_args["check_same_thread"] = False
    try:
        return create_engine(url, connect_args=connect_args, pool_pre_ping=pre_ping)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise AdapterConfigError(f"{where}: cannot use the database URL ({type(exc).__name__})") from None

