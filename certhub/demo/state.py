"""What makes a data directory the demo's: a file recording the demo's
database, its key-encryption secret and its registry id.

`certhub demo` writes it (mode 0600: it holds the secret that opens the
database's private keys); every other command run with the same data
directory and database reads it and runs in demo mode with that secret and
registry id, so the commands in the README work against the demo as printed
without any variable. Only the standard library here: the CLI reads this
before any command's heavy imports.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "demo.json"
_MAX_STATE_BYTES = 1 << 14


class NotADemoDatabase(Exception):
    """The data directory holds a database the demo did not create."""


@dataclass(frozen=True)
class DemoState:
    database_url: str
    secret_key: str
    registry_id: str


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def read_state(data_dir: Path) -> DemoState | None:
    """The demo's record in `data_dir`, or None when the directory is not the demo's."""
    path = state_path(data_dir)
    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return None
    try:
        if len(raw) > _MAX_STATE_BYTES:
            raise ValueError("too large")
        data = json.loads(raw)
        return DemoState(database_url=str(data["database_url"]), secret_key=str(data["secret_key"]),
                         registry_id=str(data["registry_id"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise NotADemoDatabase(f"{path} is not a demo record ({exc}); remove it or use another data directory") \
            from None


def record_demo(data_dir: Path, *, database_url: str, registry_id: str, has_schema: bool) -> DemoState:
    """Create or update the demo's record: a new random secret the first
    time, the same secret afterwards. A database that already has a schema
    but no record is someone else's (or an older demo's, sealed with another
    secret): refused rather than filled with demo data."""
    existing = read_state(data_dir)
    if existing is not None and existing.database_url != database_url:
        raise NotADemoDatabase(f"{state_path(data_dir)} records the demo database {existing.database_url}, "
                               f"not {database_url}; unset CERTHUB_DATABASE_URL or use another data directory")
    if existing is None and has_schema:
        raise NotADemoDatabase(f"the database {database_url} was not created by `certhub demo`; "
                               "give the demo an empty data directory (--data-dir or CERTHUB_DATA_DIR)")
    secret = existing.secret_key if existing is not None else secrets.token_urlsafe(48)
    state = DemoState(database_url=database_url, secret_key=secret, registry_id=registry_id)
    if state != existing:
        _write_private(state_path(data_dir), json.dumps(asdict(state), indent=2).encode())
    return state


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(temporary, 0o600)  # O_CREAT's mode does not apply to a file left over from a failed write
    os.replace(temporary, path)
