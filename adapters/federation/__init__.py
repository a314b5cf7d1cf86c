"""Other registries' published documents: last good copy, age, grace period."""

from adapters.federation.service import (
    FAILED,
    NOT_MODIFIED,
    UPDATED,
    FederatedCopy,
    Federation,
    FederationSource,
    SourceStatus,
    run_schedule,
)

__all__ = [
    "FAILED",
    "NOT_MODIFIED",
    "UPDATED",
    "FederatedCopy",
    "Federation",
    "FederationSource",
    "SourceStatus",
    "run_schedule",
]
