"""A registry of services keyed by type, and the FastAPI dependency that reads it."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from fastapi import Depends, Request

T = TypeVar("T")

# The one attribute of ``app.state`` certhub sets: everything else is found
# through it, by type.
STATE_ATTRIBUTE = "services"


class MissingService(LookupError):
    """Asked for a service this deployment did not build: a wiring mistake,
    so it fails loudly rather than answering without it."""


class Services:
    """The services of one running app, at most one per type."""

    def __init__(self) -> None:
        self._by_type: dict[type, object] = {}

    def register(self, kind: type[T], instance: T) -> None:
        if not isinstance(instance, kind):
            raise TypeError(f"{instance!r} is not a {kind.__qualname__}")
        if kind in self._by_type:
            raise ValueError(f"a {kind.__qualname__} is registered already")
        self._by_type[kind] = instance

    def replace(self, kind: type[T], instance: T) -> None:
        """For start-up steps that build a service late (the lifespan's thread pools)."""
        if not isinstance(instance, kind):
            raise TypeError(f"{instance!r} is not a {kind.__qualname__}")
        self._by_type[kind] = instance

    def find(self, kind: type[T]) -> T:
        try:
            return cast(T, self._by_type[kind])
        except KeyError:
            raise MissingService(f"this app has no {kind.__qualname__}") from None

    def find_optional(self, kind: type[T]) -> T | None:
        """For what a deployment may leave out (adapter bindings, recognised registries)."""
        return cast("T | None", self._by_type.get(kind))


def find_service(request: Request, kind: type[T]) -> T:
    """The service of ``kind`` of the app serving ``request`` (for dependency functions)."""
    services: Services = getattr(request.app.state, STATE_ATTRIBUTE)
    return services.find(kind)


def service(kind: type[T]) -> Any:
    """A route parameter's dependency on the service of ``kind``:
    ``authority: Annotated[TokenAuthority, service(TokenAuthority)]``.

    The dependency is a coroutine so that FastAPI calls it on the loop rather
    than sending it to a worker thread.
    """

    async def found(request: Request) -> T:
        return find_service(request, kind)

    found.__name__ = f"find_{kind.__name__}"
    return Depends(found)


def optional_service(kind: type[T]) -> Any:
    """Like ``service``, for what a deployment may leave out: ``None`` when the app has none."""

    async def found(request: Request) -> T | None:
        services: Services = getattr(request.app.state, STATE_ATTRIBUTE)
        return services.find_optional(kind)

    found.__name__ = f"find_optional_{kind.__name__}"
    return Depends(found)
