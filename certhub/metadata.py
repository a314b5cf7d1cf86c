"""Every package's table metadata, for migrations."""

from __future__ import annotations

from sqlalchemy import MetaData


def target_metadata() -> list[MetaData]:
    import catalog.models  # noqa: F401  (registers the tables)
    from catalog.db import Base

    return [Base.metadata]
