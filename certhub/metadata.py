"""Every package's table metadata, for migrations."""

from __future__ import annotations

from sqlalchemy import MetaData


def target_metadata() -> list[MetaData]:
    import adapters.imports.models  # noqa: F401
    import adapters.models  # noqa: F401
    import catalog.models  # noqa: F401
    import exchange.agreements.models  # noqa: F401
    import exchange.auditlog.models  # noqa: F401
    import exchange.consent.models  # noqa: F401
    import exchange.mandates.models  # noqa: F401
    import exchange.subscriptions.models  # noqa: F401
    import exchange.webpush.models  # noqa: F401
    import registry.import_models  # noqa: F401
    import registry.models  # noqa: F401
    import registry.oid4vp.models  # noqa: F401
    import registry.presentations.models  # noqa: F401
    from signing.models import SigningBase
    from storage.base import Base

    return [Base.metadata, SigningBase.metadata]
