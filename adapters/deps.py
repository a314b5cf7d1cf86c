"""FastAPI dependency for the binding registry the app was composed with
(`app.state.adapter_bindings`), so the router never imports certhub."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from adapters.errors import AdapterConfigError
from adapters.sources.registry import BindingRegistry


async def get_binding_registry(request: Request) -> BindingRegistry:
    registry = getattr(request.app.state, "adapter_bindings", None)
    if registry is None:
        raise AdapterConfigError("no adapter bindings are configured")
    return registry


BindingsDep = Annotated[BindingRegistry, Depends(get_binding_registry)]
