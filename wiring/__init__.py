"""Services built once at start-up and fetched by their type where they are used.

The composition root (``certhub.root``) builds every long-lived object (the
settings, the unit of work, the cache, the token authority, the log
recorder, ...) once and registers each here under its type. Routes ask for
what they need by type (``Annotated[TokenAuthority, service(TokenAuthority)]``);
domain code never sees the registry or a ``Request``: a route hands each use
case exactly the objects it takes.
"""

from wiring.services import MissingService, Services, find_service, optional_service, service

__all__ = ["MissingService", "Services", "find_service", "optional_service", "service"]
