"""The deployment's plain settings that identity's routes read, as one typed
value found by its type (``wiring.service(IdentityConfig)``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityConfig:
    # The audience a department's client assertion must name (RFC 7523 §3).
    registry_id: str
    # The development sign-ins exist only when the deployment says it is a
    # demo: an app that never said so is not one (fail closed).
    demo: bool = False
