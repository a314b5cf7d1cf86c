"""The FastAPI application factory: composition of every package's routers."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

import adapters.api
import catalog.api
import certhub.web
import certhub.web.apidocs
import exchange.agreements.api
import exchange.auditlog.api
import exchange.auditlog.holder_api
import exchange.auditlog.log_api
import exchange.consent.api
import exchange.mandates.api
import exchange.plan.api
import exchange.query.api
import exchange.subscriptions.api
import identity.api
import identity.holders_api
import registry.delegations.api
import registry.licences.api
import registry.presentations.api
import registry.seals.api
import registry.wallet.api
from adapters.federation import run_schedule
from adapters.sources.registry import BindingRegistry
from catalog.access import UseLog
from certhub import __version__
from certhub.bodylimit import BodyLimit
from certhub.db import (
    create_async_sessionmaker,
    create_db_engine,
    create_query_engine,
    create_sessionmaker,
    create_unit_of_work,
)
from certhub.errors import install_error_handlers
from certhub.nostore import NoStoreByDefault
from certhub.recognition import Recognition
from certhub.settings import Settings
from exchange.auditlog.checkpoints import run_checkpointer
from exchange.auditlog.health import PublicationMonitor
from exchange.auditlog.recorder import UseRecorder
from exchange.subscriptions.callbacks import CallbackPolicy
from exchange.subscriptions.dispatcher import WebhookWorker
from identity import token_revocations
from identity.holder_auth import HolderAuthority, OidcVerifier
from identity.ratelimit import Limits, RateLimiter, rate_limit
from identity.tokens import TokenAuthority
from storage.base import utcnow
from storage.cache import Cache, create_cache
from storage.units import UnitOfWork
from wiring.services import Services

PROVIDER_CALL_THREADS = 40


def create_app(
    settings: Settings, *, engine: Engine | None = None, query_engine: AsyncEngine | None = None,
    cache: Cache | None = None, background_jobs: bool = False
) -> FastAPI:
    """Build the app. The schema must already be migrated (`certhub db upgrade`).

    `query_engine` serves the exchange query on the event loop, in autocommit,
    on PostgreSQL (`certhub.db.create_query_engine`); an app that builds its
    own `engine` from the settings builds it too (and disposes of it at
    shutdown). Without one, the query runs in the app's sessions in a worker
    thread like every other route.

    `background_jobs` starts the log checkpointer with the app (serve and
    demo do; tests drive checkpoints themselves).
    """
    settings.require_usable_secret()
    owns_query_engine = False
    if engine is None:
        engine = create_db_engine(settings.effective_database_url, serve_requests=True)
        if query_engine is None:
            query_engine = create_query_engine(settings.effective_database_url)
            owns_query_engine = query_engine is not None
    owns_cache = cache is None
    cache = cache or create_cache(settings.redis_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The threads the exchange query on the loop sends providers' calls
        # to: as many as anyio's default pool, which the query used before.
        provider_calls = app.state.provider_calls = ThreadPoolExecutor(
            max_workers=PROVIDER_CALL_THREADS, thread_name_prefix="certhub-provider")
        stop = threading.Event()
        # Withdrawn client credentials: read before the first request, then
        # kept current by a thread of their own (identity.token_revocations).
        # On sessions of its own, from the engine: a thread must not share
        # the sessions' connections.
        watch = token_revocations.WithdrawalWatch(
            create_sessionmaker(engine), withdrawn, token_ttl_seconds=settings.access_token_ttl_seconds,
            poll_seconds=settings.token_revocation_poll_seconds)
        # Listening before the first read: a withdrawal told in between is
        # read again at once rather than at the next poll.
        stop_listening = cache.subscribe(watch.wake)
        try:
            await asyncio.to_thread(watch.refresh)
        except BaseException:
            stop_listening()
            raise
        stop_announcing = withdrawn.add_announcer(lambda: cache.publish(token_revocations.TOPIC, ""))
        watcher = threading.Thread(target=watch.run, args=(stop,), name="certhub-credentials", daemon=True)
        watcher.start()
        recognising = None
        if recognition is not None:
            # Recognised registries' trust lists: fetched before the first
            # request (a failure is logged, the last good copy kept), then
            # refreshed by a thread of their own.
            await asyncio.to_thread(_recognise_now, recognition, app.state.sessionmaker)
            recognising = threading.Thread(
                target=run_schedule, args=(recognition.federation,),
                kwargs={"sessions": app.state.sessionmaker, "stop": stop,
                        "tick_seconds": min(30.0, recognition.shortest_refresh_seconds)},
                name="certhub-recognition", daemon=True)
            recognising.start()
        checkpointer = None
        webhooks = webhooks_thread = None
        if background_jobs:
            checkpointer = threading.Thread(
                target=run_checkpointer,
                args=(app.state.sessionmaker, app.state.key_secret, app.state.auditlog_checkpoint_interval_s, stop),
                kwargs={"origin": app.state.auditlog_origin, "monitor": app.state.auditlog_monitor},
                name="certhub-checkpointer",
                daemon=True,
            )
            checkpointer.start()
            # Push subscriptions: dispatch licence events, deliver signed webhooks.
            webhooks = WebhookWorker(sessions=app.state.sessionmaker, key_secret=app.state.key_secret,
                                     registry_id=app.state.registry_id, policy=app.state.webhook_callback_policy,
                                     egress=settings.egress())
            webhooks_thread = threading.Thread(target=webhooks.run, kwargs={"interval_s": 5.0, "stop": stop},
                                               name="certhub-webhooks", daemon=True)
            webhooks_thread.start()
        yield
        stop.set()
        stop_announcing()
        stop_listening()
        watch.wake()
        watcher.join(timeout=5)
        if recognising is not None:
            recognising.join(timeout=15)
        if checkpointer is not None:
            checkpointer.join(timeout=5)
        if webhooks is not None:
            webhooks_thread.join(timeout=15)
            webhooks.close()
        provider_calls.shutdown(wait=False, cancel_futures=True)
        if app.state.provider_calls is provider_calls:  # (a test may run the lifespan twice at once)
            app.state.provider_calls = None
        if owns_query_engine:
            await query_engine.dispose()
        if owns_cache:
            cache.close()
        if app.state.adapter_bindings is not None:
            app.state.adapter_bindings.close()
        if recognition is not None:
            recognition.close()

    app = FastAPI(
        title="certhub",
        version=__version__,
        description="E-licence (电子证照) registry and data-sharing exchange hub for government services.",
        lifespan=lifespan,
        # /docs is served from a packaged Swagger UI (certhub.web.apidocs), not FastAPI's CDN page.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = Services()
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.query_sessionmaker = create_async_sessionmaker(query_engine) if query_engine is not None else None
    app.state.provider_calls = None  # the lifespan's (see there)
    app.state.services = getattr(app.state, "services", None) or Services()
    # The sessionmaker and the provider pool are looked up when a use case
    # runs: the lifespan builds the pool, and tests swap the sessionmaker.
    app.state.services.register(UnitOfWork, create_unit_of_work(
        engine, sessions=lambda: app.state.sessionmaker(), query_sessions=app.state.query_sessionmaker,
        calls=lambda: app.state.provider_calls))
    app.state.cache = cache
    app.state.key_secret = settings.secret_bytes()
    app.state.adapter_bindings = (
        BindingRegistry.from_yaml(settings.adapters_file, egress=settings.egress()) if settings.adapters_file else None
    )
    app.state.registry_id = settings.registry_id
    # Other registries whose codes /api/v1/verify accepts (CERTHUB_RECOGNISED_REGISTRIES).
    recognition = app.state.recognition = (
        Recognition(settings.recognised_registries, egress=settings.egress()) if settings.recognised_registries
        else None
    )
    # Authorized-use log: checkpoint origin, fail-closed limit, checkpointer period.
    app.state.auditlog_origin = exchange.auditlog.log_origin(settings.registry_id)
    app.state.auditlog_max_lag = timedelta(seconds=settings.auditlog_max_lag_seconds)
    app.state.auditlog_checkpoint_interval_s = settings.auditlog_checkpoint_interval_seconds
    app.state.auditlog_monitor = PublicationMonitor()  # why checkpoints fail, for refusals and /log/health
    # Every data-serving route records through this (catalog.access).
    app.state.access_recorder = UseRecorder(max_lag=app.state.auditlog_max_lag, monitor=app.state.auditlog_monitor)
    app.state.services.register(UseLog, app.state.access_recorder)
    withdrawn = token_revocations.withdrawn_for(engine)
    app.state.token_authority = TokenAuthority(
        secret=settings.secret_bytes(),
        issuer=settings.registry_id,
        ttl_seconds=settings.access_token_ttl_seconds,
        revocations=withdrawn,
    )
    app.state.demo = settings.demo
    # Per-department rate limits and quotas (identity.ratelimit), counted in the cache.
    default_limits = Limits(per_minute=settings.rate_limit_per_minute, daily=settings.daily_quota)
    app.state.rate_limiter = RateLimiter(cache, default=default_limits, overrides={
        code: Limits.from_override(value, default=default_limits) for code, value in settings.rate_limit_overrides.items()
    })
    app.state.webhook_callback_policy = CallbackPolicy.for_deployment(
        demo=settings.demo, allow_loopback=settings.webhooks_allow_loopback
    )
    app.state.dispute_deadline = timedelta(days=settings.dispute_deadline_days)
    app.state.holder_authority = HolderAuthority(
        secret=settings.secret_bytes(),
        issuer=settings.registry_id,
        ttl_seconds=settings.holder_session_ttl_seconds,
        oidc=OidcVerifier(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            holder_code_claim=settings.oidc_holder_code_claim,
            egress=settings.egress(),
        )
        if settings.oidc_issuer and settings.oidc_audience
        else None,
    )
    install_error_handlers(app)
    # Every body is bounded before anything reads it (certhub.bodylimit).
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_body_bytes)
    # No cache keeps an API answer unless its route chose to allow it (certhub.nostore).
    app.add_middleware(NoStoreByDefault)
    # Routes are matched in order, one pattern at a time: the calls that come
    # by the thousand (a counter redeeming, a department querying) go first.
    # Their paths are fixed, so they shadow nothing below them.
    # These two count their requests inside their own trip to a worker thread (identity.ratelimit.charge).
    app.include_router(registry.presentations.api.redeem_router)
    app.include_router(exchange.query.api.router)
    app.include_router(identity.api.oauth_router)
    app.include_router(catalog.api.router)
    app.include_router(identity.holders_api.router)
    app.include_router(registry.seals.api.router)
    app.include_router(adapters.api.data_return_router)
    app.include_router(registry.seals.api.well_known_router)
    app.include_router(registry.licences.api.router)
    app.include_router(registry.licences.api.status_list_router)
    app.include_router(registry.presentations.api.router)
    app.include_router(registry.presentations.api.verify_router)
    app.include_router(registry.delegations.api.router)
    app.include_router(registry.wallet.api.router)
    app.include_router(exchange.auditlog.log_api.router)
    app.include_router(exchange.auditlog.api.router)
    app.include_router(exchange.auditlog.holder_api.router)
    app.include_router(exchange.agreements.api.router)
    app.include_router(exchange.consent.api.router)
    app.include_router(exchange.mandates.api.router)
    app.include_router(exchange.plan.api.router, dependencies=[Depends(rate_limit("exchange"))])
    app.include_router(exchange.subscriptions.api.router, dependencies=[Depends(rate_limit("exchange"))])
    # The browser pages (and the landing page at /) with their assets.
    certhub.web.install(app)
    certhub.web.apidocs.install(app)
    _add_meta_routes(app)
    return app


def _recognise_now(recognition: Recognition, sessions) -> None:
    with sessions() as session:
        recognition.refresh(session, now=utcnow())
        session.commit()


def _add_meta_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}
