"""FastAPI dependency for the binding registry the app was composed with
(a service of the composition root, found by type), so the router never
imports certhub."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from adapters.errors import AdapterConfigError
from adapters.sources.registry import BindingRegistry
from wiring import MissingService, find_service


def configured_bindings(request: Request) -> BindingRegistry | None:
    """The app's bindings, None when the deployment configured none."""
    try:
        return find_service(request, BindingRegistry)
    except MissingService:
        return None


async def get_configured_bindings(request: Request) -> BindingRegistry | None:
    return configured_bindings(request)


async def get_binding_registry(request: Request) -> BindingRegistry:
    registry = configured_bindings(request)
    if registry is None:
        raise AdapterConfigError("no adapter bindings are configured")
    return registry


BindingsDep = Annotated[BindingRegistry, Depends(get_binding_registry)]
# For routes that serve without bindings too (the exchange's plan and query).
OptionalBindingsDep = Annotated[BindingRegistry | None, Depends(get_configured_bindings)]
