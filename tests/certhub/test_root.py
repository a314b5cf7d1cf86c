"""The composition root: one typed registry on app.state, every service a
route asks for registered in it, plain settings found by type."""

from __future__ import annotations

import ast
import inspect
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from adapters.sources.registry import BindingRegistry
from catalog.access import UseLog
from certhub.app import create_app
from certhub.root import build_root
from exchange.auditlog.checkpoints import log_origin
from exchange.auditlog.config import LogConfig
from exchange.auditlog.recorder import UseRecorder
from identity.config import IdentityConfig
from identity.ratelimit import RateLimiter
from identity.staff_auth import StaffAuthority
from identity.tokens import TokenAuthority
from registry.config import RegistryConfig
from registry.presentations.trust import RegistryTrust
from storage.cache import Cache, InProcessCache
from tests.environment import REPO_ROOT
from wiring import Services

# What the routes find in their own work rather than as a dependency
# (find_service inside the hot routes and the dependency functions).
FOUND_IN_THE_WORK = (sessionmaker, Cache, RateLimiter, TokenAuthority, StaffAuthority, RegistryTrust, RegistryConfig,
                     UseLog, ThreadPoolExecutor)
# What a deployment may leave out; the routes that need it answer without it.
OPTIONAL = (BindingRegistry,)


def _service_kinds(app) -> set[type]:
    """Every type a route asks for through ``wiring.service(kind)``, at any depth of its dependencies
    (``wiring.optional_service(kind)`` asks for what a deployment may leave out: not counted)."""
    kinds: set[type] = set()

    def walk(dependant) -> None:
        call = dependant.call
        if inspect.isfunction(call) and call.__name__.startswith("find_") and not call.__name__.startswith("find_optional_"):
            kind = inspect.getclosurevars(call).nonlocals.get("kind")
            if isinstance(kind, type):
                kinds.add(kind)
        for sub in dependant.dependencies:
            walk(sub)

    def routes(candidates):
        for route in candidates:
            included = getattr(route, "original_router", None)  # an included router (FastAPI >= 0.16x)
            if included is not None:
                yield from routes(included.routes)
            elif isinstance(route, APIRoute):
                yield route

    for route in routes(app.routes):
        walk(route.dependant)
    return kinds


def test_app_state_holds_the_services_alone(settings, migrated_engine, session_factory):
    app = create_app(settings, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    assert set(vars(app.state)["_state"]) == {"services"}
    assert isinstance(app.state.services, Services)
    # Running the app (its lifespan builds the providers' pool) adds nothing beside it.
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert set(vars(app.state)["_state"]) == {"services"}
    assert set(vars(app.state)["_state"]) == {"services"}


def test_every_service_a_route_asks_for_is_registered(settings, migrated_engine, session_factory):
    app = create_app(settings, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    services: Services = app.state.services
    asked = _service_kinds(app)
    # The walk does find the routes' services (the log's, the registry's, identity's).
    assert {LogConfig, RegistryConfig, IdentityConfig, StaffAuthority} <= asked
    for kind in sorted(asked | set(FOUND_IN_THE_WORK), key=lambda kind: kind.__qualname__):
        if kind in OPTIONAL:
            continue
        assert isinstance(services.find(kind), kind), kind


def test_the_root_builds_each_service_once_from_the_settings(settings, migrated_engine):
    configured = settings.model_copy(update={"presentation_ttl_seconds": 90, "dispute_deadline_days": 9,
                                             "auditlog_max_lag_seconds": 120, "demo": True})
    root = build_root(configured, engine=migrated_engine, cache=InProcessCache())
    assert root.registry.registry_id == configured.registry_id
    assert root.registry.key_secret == configured.secret_bytes()
    assert root.registry.presentation_ttl_seconds == 90 and root.registry.dispute_deadline.days == 9
    assert root.log.origin == log_origin(configured.registry_id) and root.log.max_lag.total_seconds() == 120
    assert root.identity == IdentityConfig(registry_id=configured.registry_id, demo=True)
    # One log recorder and one monitor, shared: a refusal quotes what the checkpointer saw.
    assert isinstance(root.use_recorder, UseRecorder) and root.use_recorder.monitor is root.publication_monitor
    assert root.use_recorder.max_lag == root.log.max_lag
    # The rate limiter counts in the root's cache.
    assert root.rate_limiter.limits_for("any").per_minute == configured.rate_limit_per_minute
    # Registered by type, each once.
    registered = list(root.registrations())
    assert len({kind for kind, _ in registered}) == len(registered)
    assert all(isinstance(instance, kind) for kind, instance in registered)


def test_the_key_secret_never_shows_in_a_config(settings, migrated_engine):
    root = build_root(settings, engine=migrated_engine, cache=InProcessCache())
    assert settings.secret_bytes().decode() not in repr(root.registry)
    assert "key_secret" not in repr(root.registry)


# The HTTP adapters: routers and the FastAPI dependencies they take.
_HTTP_ADAPTERS = {"api.py", "deps.py"}
_HTTP_ADAPTER_PATHS = {"storage/sessions.py", "wiring/services.py", "catalog/access.py"}
_DOMAIN_PACKAGES = ("storage", "identity", "catalog", "signing", "registry", "exchange", "adapters")


def _takes_a_request(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"fastapi", "starlette.requests"}:
            if any(alias.name == "Request" for alias in node.names):
                return True
    return False


def test_no_domain_code_receives_a_request():
    offenders = []
    for package in _DOMAIN_PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if path.name in _HTTP_ADAPTERS or path.name.endswith("_api.py") or relative in _HTTP_ADAPTER_PATHS:
                continue
            if _takes_a_request(path):
                offenders.append(relative)
    assert offenders == []
