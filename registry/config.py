"""The deployment's plain settings that the registry's routes read, as one
typed value found by its type (``wiring.service(RegistryConfig)``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from registry.service import disputes


@dataclass(frozen=True)
class RegistryConfig:
    # Names this registry in every code, licence and status list it signs.
    registry_id: str
    # The root secret the key stores derive and seal keys from; never shown.
    key_secret: bytes = field(repr=False)
    # How long a holder's one-time 亮证 code lives.
    presentation_ttl_seconds: int = 300
    # How long a disputed licence's issuer has to answer.
    dispute_deadline: timedelta = disputes.DEFAULT_DEADLINE
