"""The FastAPI application factory: composition of every package's routers."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session, sessionmaker

import adapters.api
import catalog.api
import certhub.web
import certhub.web.apidocs
import exchange.agreements.api
import exchange.auditlog.api
import exchange.auditlog.holder_api
import exchange.auditlog.log_api
import exchange.auditlog.notices_api
import exchange.auditlog.statistics_api
import exchange.consent.api
import exchange.mandates.api
import exchange.plan.api
import exchange.query.api
import exchange.subscriptions.api
import exchange.webpush.api
import identity.api
import identity.department_clients_api
import identity.holders_api
import identity.staff_api
import registry.delegations.api
import registry.issuance.api
import registry.licences.api
import registry.oid4vp.api
import registry.presentations.api
import registry.seals.api
import registry.wallet.api
from adapters.federation import run_schedule
from certhub import __version__, metrics, operations, tracing
from certhub.bodylimit import BodyLimit
from certhub.compression import CompressLarge
from certhub.db import create_sessionmaker, create_unit_of_work
from certhub.errors import install_error_handlers
from certhub.nostore import NoStoreByDefault
from certhub.openapi import install_openapi, operation_id
from certhub.recognition import Recognition
from certhub.request_context import RequestTelemetry
from certhub.root import build_root
from certhub.settings import Settings
from exchange.auditlog.checkpoints import run_checkpointer
from exchange.subscriptions.dispatcher import WebhookWorker
from exchange.webpush.service import WebPushWorker
from identity import token_revocations
from identity.deps import rate_limit
from storage.base import utcnow
from storage.cache import Cache
from storage.units import ReadSessions, UnitOfWork
from wiring import Services

PROVIDER_CALL_THREADS = 40


def create_app(
    settings: Settings, *, engine: Engine | None = None, query_engine: AsyncEngine | None = None,
    cache: Cache | None = None, sessions: sessionmaker[Session] | None = None, background_jobs: bool = False,
    read_sessions: ReadSessions | None = None,
) -> FastAPI:
    """Build the app. The schema must already be migrated (`certhub db upgrade`).

    Every service is built once by the composition root (``certhub.root``)
    and registered by type into ``app.state.services``, the one attribute of
    ``app.state``.

    `query_engine` serves the exchange query on the event loop, in autocommit,
    on PostgreSQL (`certhub.db.create_query_engine`); an app that builds its
    own `engine` from the settings builds it too (and disposes of it at
    shutdown). Without one, the query runs in the app's sessions in a worker
    thread like every other route.

    `background_jobs` starts the log checkpointer with the app (serve and
    demo do; tests drive checkpoints themselves).
    """
    root = build_root(settings, engine=engine, query_engine=query_engine, cache=cache, sessions=sessions,
                      read_sessions=read_sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services: Services = app.state.services
        # The sessions the app serves with now (a test may have put its own in).
        sessions = services.find(sessionmaker)
        # The threads the exchange query on the loop sends providers' calls
        # to: as many as anyio's default pool, which the query used before.
        provider_calls = ThreadPoolExecutor(max_workers=PROVIDER_CALL_THREADS, thread_name_prefix="certhub-provider")
        services.replace(ThreadPoolExecutor, provider_calls)
        stop = threading.Event()
        # Withdrawn client credentials: read before the first request, then
        # kept current by a thread of their own (identity.token_revocations).
        # On sessions of its own, from the engine: a thread must not share
        # the sessions' connections.
        watch = token_revocations.WithdrawalWatch(
            create_sessionmaker(root.engine), root.withdrawn, token_ttl_seconds=settings.access_token_ttl_seconds,
            poll_seconds=settings.token_revocation_poll_seconds)
        # Listening before the first read: a withdrawal told in between is
        # read again at once rather than at the next poll.
        stop_listening = root.cache.subscribe(watch.wake)
        try:
            await asyncio.to_thread(watch.refresh)
        except BaseException:
            stop_listening()
            raise
        stop_announcing = root.withdrawn.add_announcer(lambda: root.cache.publish(token_revocations.TOPIC, ""))
        watcher = threading.Thread(target=watch.run, args=(stop,), name="certhub-credentials", daemon=True)
        watcher.start()
        recognition = root.recognition
        recognising = None
        if recognition is not None:
            # Recognised registries' trust lists: fetched before the first
            # request (a failure is logged, the last good copy kept), then
            # refreshed by a thread of their own.
            await asyncio.to_thread(_recognise_now, recognition, sessions)
            recognising = threading.Thread(
                target=run_schedule, args=(recognition.federation,),
                kwargs={"sessions": sessions, "stop": stop,
                        "tick_seconds": min(30.0, recognition.shortest_refresh_seconds)},
                name="certhub-recognition", daemon=True)
            recognising.start()
        checkpointer = None
        webhooks = webhooks_thread = None
        web_push = web_push_thread = None
        if background_jobs:
            if root.web_push.enabled:
                # Web Push of use notices: the VAPID key made now (first start), before any background thread
                # writes: on SQLite the checkpointer's first round would hold the one write lock against it.
                web_push = WebPushWorker(sessions=sessions, key_secret=root.registry.key_secret, config=root.web_push,
                                         policy=root.callback_policy, egress=settings.egress())
                await asyncio.to_thread(web_push.ensure_key)
            checkpointer = threading.Thread(
                target=run_checkpointer,
                args=(sessions, root.registry.key_secret, root.log.checkpoint_interval_s, stop),
                kwargs={"origin": root.log.origin, "monitor": root.publication_monitor,
                        "timestamps": root.checkpoint_tsa.post if root.checkpoint_tsa is not None else None,
                        "witnesses": root.log_witnesses},
                name="certhub-checkpointer",
                daemon=True,
            )
            checkpointer.start()
            # Push subscriptions: dispatch licence events, deliver signed webhooks.
            webhooks = WebhookWorker(sessions=sessions, key_secret=root.registry.key_secret,
                                     registry_id=root.registry.registry_id, policy=root.callback_policy,
                                     egress=settings.egress())
            webhooks_thread = threading.Thread(target=webhooks.run, kwargs={"interval_s": 5.0, "stop": stop},
                                               name="certhub-webhooks", daemon=True)
            webhooks_thread.start()
            if web_push is not None:
                web_push_thread = threading.Thread(target=web_push.run, kwargs={"interval_s": 5.0, "stop": stop},
                                                   name="certhub-web-push", daemon=True)
                web_push_thread.start()
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
        if web_push is not None and web_push_thread is not None:
            web_push_thread.join(timeout=15)
            web_push.close()
        provider_calls.shutdown(wait=False, cancel_futures=True)
        if services.find(ThreadPoolExecutor) is provider_calls:  # (a test may run the lifespan twice at once)
            services.replace(ThreadPoolExecutor, root.provider_calls)
        await root.aclose()

    app = FastAPI(
        title="certhub",
        version=__version__,
        description="E-licence (电子证照) registry and data-sharing exchange hub for government services.",
        lifespan=lifespan,
        # /docs is served from a packaged Swagger UI (certhub.web.apidocs), not FastAPI's CDN page.
        docs_url=None,
        redoc_url=None,
        # Explicit operation ids: the route functions' names (certhub.openapi).
        generate_unique_id_function=operation_id,
    )
    install_openapi(app)
    app.state.services = Services()
    for kind, instance in root.registrations():
        app.state.services.register(kind, instance)
    # The use cases' unit of work (storage.units): the sessionmaker and the
    # provider pool are looked up when one runs, since the lifespan builds the
    # pool and tests swap the sessionmaker.
    services = app.state.services
    services.register(UnitOfWork, create_unit_of_work(
        root.engine, sessions=lambda: services.find(sessionmaker)(), query_sessions=root.query_sessions,
        calls=lambda: services.find(ThreadPoolExecutor), read_sessions=root.read_sessions))
    install_error_handlers(app)
    # Every body is bounded before anything reads it (certhub.bodylimit).
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_body_bytes)
    # No cache keeps an API answer unless its route chose to allow it (certhub.nostore).
    app.add_middleware(NoStoreByDefault)
    # Large answers gzipped, never those carrying a secret (certhub.compression).
    app.add_middleware(CompressLarge)
    # Outermost of ours: the request id, the access line, the request metrics (certhub.request_context).
    app.add_middleware(RequestTelemetry)
    # Routes are matched in order, one pattern at a time: the calls that come
    # by the thousand (a counter redeeming, a department querying) go first.
    # Their paths are fixed, so they shadow nothing below them.
    # These two count their requests in their own work (RateLimiter.charge), not through rate_limit.
    app.include_router(registry.presentations.api.redeem_router)
    app.include_router(exchange.query.api.router)
    app.include_router(identity.api.oauth_router)
    app.include_router(identity.api.well_known_router)
    app.include_router(catalog.api.router)
    app.include_router(identity.holders_api.router)
    app.include_router(identity.staff_api.router)
    app.include_router(identity.department_clients_api.router)
    app.include_router(registry.seals.api.router)
    app.include_router(adapters.api.data_return_router)
    app.include_router(registry.seals.api.well_known_router)
    app.include_router(registry.licences.api.router)
    app.include_router(registry.licences.api.status_list_router)
    app.include_router(registry.licences.api.type_metadata_router)
    app.include_router(registry.presentations.api.router)
    app.include_router(registry.presentations.api.verify_router)
    app.include_router(registry.oid4vp.api.router)
    app.include_router(registry.oid4vp.api.wallet_router)
    app.include_router(registry.delegations.api.router)
    app.include_router(registry.wallet.api.router)
    app.include_router(registry.issuance.api.offer_router)
    app.include_router(registry.issuance.api.router)
    app.include_router(registry.issuance.api.well_known_router)
    app.include_router(exchange.auditlog.log_api.router)
    app.include_router(exchange.auditlog.api.router)
    app.include_router(exchange.auditlog.api.usage_router)
    app.include_router(exchange.auditlog.holder_api.router)
    app.include_router(exchange.auditlog.statistics_api.router)
    app.include_router(exchange.auditlog.notices_api.router)
    app.include_router(exchange.webpush.api.router)
    app.include_router(exchange.agreements.api.router)
    app.include_router(exchange.consent.api.router)
    app.include_router(exchange.mandates.api.router)
    app.include_router(exchange.plan.api.router, dependencies=[Depends(rate_limit("exchange"))])
    app.include_router(exchange.subscriptions.api.router, dependencies=[Depends(rate_limit("exchange"))])
    # The browser pages (and the landing page at /) with their assets.
    certhub.web.install(app)
    certhub.web.apidocs.install(app)
    _add_meta_routes(app)
    # /readyz and /metrics (certhub.operations); pool counts and, when OTEL_* ask, traces.
    app.include_router(operations.router)
    for engine in root.engines():
        metrics.watch_pool(engine)
    tracing.instrument(app, engines=root.engines())
    return app


def _recognise_now(recognition: Recognition, sessions) -> None:
    with sessions() as session:
        recognition.refresh(session, now=utcnow())
        session.commit()


def _add_meta_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}
