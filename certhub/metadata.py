"""Every package's table metadata, for migrations."""

from __future__ import annotations

from sqlalchemy import MetaData


def target_metadata() -> list[MetaData]:
    import adapters.models  # noqa: F401
    import catalog.models  # noqa: F401
    import exchange.auditlog.models  # noqa: F401
    import registry.models  # noqa: F401
    from catalog.db import Base
    from signing.models import SigningBase

    return [Base.metadata, SigningBase.metadata]
