"""The FastAPI application factory: composition of every package's routers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

import catalog.api
import registry.seals_api
from catalog.cache import Cache, create_cache
from catalog.tokens import TokenAuthority
from certhub import __version__
from certhub.db import create_db_engine, create_sessionmaker
from certhub.errors import install_error_handlers
from certhub.settings import Settings


def create_app(settings: Settings, *, engine: Engine | None = None, cache: Cache | None = None) -> FastAPI:
    """Build the app. The schema must already be migrated (`certhub db upgrade`)."""
    settings.require_usable_secret()
    engine = engine or create_db_engine(settings.effective_database_url)
    owns_cache = cache is None
    cache = cache or create_cache(settings.redis_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if owns_cache:
            cache.close()

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
    app.state.registry_id = settings.registry_id
    app.state.token_authority = TokenAuthority(
        secret=settings.secret_bytes(),
        issuer=settings.registry_id,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    install_error_handlers(app)
    app.include_router(catalog.api.oauth_router)
    app.include_router(catalog.api.router)
    app.include_router(registry.seals_api.router)
    app.include_router(registry.seals_api.well_known_router)
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
