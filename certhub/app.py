"""The FastAPI application factory: composition of every package's routers."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

import adapters.api
import catalog.api
import catalog.holders_api
import registry.api
import registry.seals_api
import exchange.auditlog.api
import exchange.auditlog.holder_api
import exchange.auditlog.log_api
from adapters.sources.registry import BindingRegistry
from catalog.cache import Cache, create_cache
from catalog.holder_auth import HolderAuthority, OidcVerifier
from catalog.tokens import TokenAuthority
from certhub import __version__
from certhub.db import create_db_engine, create_sessionmaker
from certhub.errors import install_error_handlers
from certhub.settings import Settings
from exchange.auditlog.checkpoints import run_checkpointer
from exchange.auditlog.recorder import UseRecorder


def create_app(
    settings: Settings, *, engine: Engine | None = None, cache: Cache | None = None, background_jobs: bool = False
) -> FastAPI:
    """Build the app. The schema must already be migrated (`certhub db upgrade`).

    `background_jobs` starts the log checkpointer with the app (serve and
    demo do; tests drive checkpoints themselves).
    """
    settings.require_usable_secret()
    engine = engine or create_db_engine(settings.effective_database_url)
    owns_cache = cache is None
    cache = cache or create_cache(settings.redis_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        checkpointer = None
        if background_jobs:
            checkpointer = threading.Thread(
                target=run_checkpointer,
                args=(app.state.sessionmaker, app.state.key_secret, app.state.auditlog_checkpoint_interval_s, stop),
                kwargs={"origin": app.state.auditlog_origin},
                name="certhub-checkpointer",
                daemon=True,
            )
            checkpointer.start()
        yield
        stop.set()
        if checkpointer is not None:
            checkpointer.join(timeout=5)
        if owns_cache:
            cache.close()
        if app.state.adapter_bindings is not None:
            app.state.adapter_bindings.close()

    app = FastAPI(
        title="certhub",
        version=__version__,
        description="E-licence (电子证照) registry and data-sharing exchange hub for government services.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.cache = cache
    app.state.key_secret = settings.secret_bytes()
    app.state.adapter_bindings = (
        BindingRegistry.from_yaml(settings.adapters_file) if settings.adapters_file else None
    )
    app.state.registry_id = settings.registry_id
    # Authorized-use log: checkpoint origin, fail-closed limit, checkpointer period.
    app.state.auditlog_origin = exchange.auditlog.log_origin(settings.registry_id)
    app.state.auditlog_max_lag = timedelta(minutes=5)
    app.state.auditlog_checkpoint_interval_s = 10.0
    # Every data-serving route records through this (catalog.access).
    app.state.access_recorder = UseRecorder(max_lag=app.state.auditlog_max_lag)
    app.state.token_authority = TokenAuthority(
        secret=settings.secret_bytes(),
        issuer=settings.registry_id,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    app.state.demo = settings.demo
    app.state.holder_authority = HolderAuthority(
        secret=settings.secret_bytes(),
        issuer=settings.registry_id,
        ttl_seconds=settings.holder_session_ttl_seconds,
        oidc=OidcVerifier(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            holder_code_claim=settings.oidc_holder_code_claim,
        )
        if settings.oidc_issuer and settings.oidc_audience
        else None,
    )
    install_error_handlers(app)
    app.include_router(catalog.api.oauth_router)
    app.include_router(catalog.api.router)
    app.include_router(catalog.holders_api.router)
    app.include_router(registry.seals_api.router)
    app.include_router(adapters.api.data_return_router)
    app.include_router(registry.seals_api.well_known_router)
    app.include_router(registry.api.router)
    app.include_router(registry.api.status_list_router)
    app.include_router(exchange.auditlog.log_api.router)
    app.include_router(exchange.auditlog.api.router)
    app.include_router(exchange.auditlog.holder_api.router)
    _add_meta_routes(app)
    return app


def _add_meta_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing() -> str:
        return _LANDING


_LANDING = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>certhub 电子证照与数据共享平台</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem">
<h1>certhub</h1>
<p>电子证照库与数据共享交换平台 — e-licence registry and data-sharing exchange hub.</p>
<ul>
<li><a href="/docs">API 文档 (OpenAPI)</a></li>
<li><a href="/api/v1/catalog/departments">部门目录 departments</a></li>
<li><a href="/api/v1/catalog/licence-types">证照类型 licence types</a></li>
<li><a href="/api/v1/catalog/data-items">共享数据项 data items</a></li>
<li><a href="/api/v1/catalog/matters">政务服务事项 matters</a></li>
</ul></body></html>
"""
