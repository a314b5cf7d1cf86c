"""Writing a delivery to the city's target: a table in its database, or a
CSV / JSON Lines file in a directory it collects from."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import MetaData, Table, delete, insert
from sqlalchemy.exc import SQLAlchemyError

from adapters.data_return.slicing import Row, canonical_line, json_safe
from adapters.errors import AdapterConfigError, DeliveryFailed
from adapters.external_db import create_external_engine, resolve_url
from adapters.sources.config import ReturnTarget

_BATCH = 500


def write(
    target: ReturnTarget, *, rows: list[Row], columns: list[str], key_column: str | None,
    file_stem: str, environ: Mapping[str, str],
) -> str:
    """Write rows; returns where they went (a file name or a table name)."""
    if target.kind == "sql":
        _write_table(target, rows=rows, key_column=key_column, environ=environ)
        return str(target.table)
    body = b"".join(canonical_line(r) for r in rows) if target.kind == "jsonl" else _csv_bytes(rows, columns)
    name = f"{file_stem}.{target.kind}"
    _write_file_atomically(Path(target.directory or "."), name, body)
    return name


def _csv_bytes(rows: list[Row], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else json_safe(row[c]) for c in columns])
    return buffer.getvalue().encode("utf-8")


def _write_file_atomically(directory: Path, name: str, body: bytes) -> None:
    # A collector polling the directory must never see half a file.
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise DeliveryFailed(f"cannot write the delivery file ({type(exc).__name__})") from None


def _write_table(target: ReturnTarget, *, rows: list[Row], key_column: str | None, environ: Mapping[str, str]) -> None:
    where = f"return target {target.name}"
    url = resolve_url(url=target.url, url_env=target.url_env, environ=environ, where=where)
    engine = create_external_engine(url, connect_timeout=10, where=where)
    schema, _, name = str(target.table).rpartition(".")
    try:
        with engine.begin() as connection:
            destination = Table(name, MetaData(), autoload_with=connection, schema=schema or None)
            _require_columns(destination, rows, where=where)
            for start in range(0, len(rows), _BATCH):
                batch = rows[start : start + _BATCH]
                if key_column is not None:
                    # Portable upsert: a changed row replaces the city's old copy.
                    keys = [r[key_column] for r in batch]
                    connection.execute(delete(destination).where(destination.c[key_column].in_(keys)))
                connection.execute(insert(destination), batch)
    except AdapterConfigError:
        raise
    except SQLAlchemyError as exc:
        raise DeliveryFailed(f"{where}: cannot write the table ({type(exc).__name__})") from None
    finally:
        engine.dispose()


def _require_columns(destination: Table, rows: list[Row], *, where: str) -> None:
    if rows:
        missing = sorted(set(rows[0]) - set(destination.c.keys()))
        if missing:
            raise AdapterConfigError(f"{where}: the target table lacks column(s) {', '.join(missing)}")
