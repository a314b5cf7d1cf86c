"""The composition root: every long-lived object of one app, built once from
the settings, typed, and registered by type for the routes to find.

``build_root`` is the only place that turns settings into services; the app
factory (``certhub.app``) registers what it built into ``wiring.Services``
(the one attribute of ``app.state``), and routes ask for a service by its
type (``Annotated[TokenAuthority, service(TokenAuthority)]``). Plain values
(the registry's id and key secret, the log's origin and lag, ...) travel as
small typed config objects owned by the package that reads them
(``registry.config.RegistryConfig``, ``exchange.auditlog.config.LogConfig``,
``identity.config.IdentityConfig``), found by type like any service.

Model: pypi/warehouse's service interfaces fetched with ``request.find_service``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from adapters.sources.registry import BindingRegistry
from catalog.access import UseLog
from certhub import metrics
from certhub.db import (
    create_async_sessionmaker,
    create_db_engine,
    create_query_engine,
    create_sessionmaker,
    create_standby_engine,
    read_only_engine,
)
from certhub.recognition import Recognition
from certhub.request_context import current_request_id
from certhub.settings import Settings
from certhub.web.staff_login import CALLBACK_PATH as STAFF_CALLBACK_PATH
from exchange.auditlog.checkpoints import log_origin
from exchange.auditlog.config import LogConfig
from exchange.auditlog.health import PublicationMonitor
from exchange.auditlog.recorder import UseRecorder
from exchange.auditlog.witnessing import LogWitness, LogWitnesses
from exchange.subscriptions.callbacks import CallbackPolicy
from exchange.webpush.config import WebPushConfig
from identity import token_revocations
from identity.api import PreAuthorizedCodeGrant
from identity.config import IdentityConfig
from identity.holder_auth import HolderAuthority, OidcVerifier
from identity.oidc_code import AuthorizationCodeClient
from identity.ratelimit import Limits, RateLimiter
from identity.staff_auth import StaffAuthority, StaffOidcVerifier
from identity.tokens import TokenAuthority
from registry.config import RegistryConfig
from registry.issuance.service import PreAuthorizedCodes
from registry.presentations.trust import RegistryTrust
from registry.service.pdfsigning import PdfTimestamps, TsaClient
from signing.hsm import ACCESS_TOKENS_MAC, HOLDER_SESSIONS_MAC, STAFF_SESSIONS_MAC, token_of
from signing.transparency.cosignature import CosignerVerifier
from storage.cache import Cache, create_cache
from storage.units import ReadSessions, Standby


@dataclass(frozen=True, eq=False)
class Root:
    """Every long-lived object of one app. Built once (``build_root``); the
    objects themselves keep their own state (caches, counters, pools)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # PostgreSQL only: the exchange query's autocommit sessions on the event loop.
    query_sessions: async_sessionmaker | None
    # Read-only work's sessions: a hot standby's within the lag bound, else the primary's (storage.units.replicas).
    read_sessions: ReadSessions
    cache: Cache
    registry: RegistryConfig
    log: LogConfig
    identity: IdentityConfig
    token_authority: TokenAuthority
    holder_authority: HolderAuthority
    staff_authority: StaffAuthority
    withdrawn: token_revocations.WithdrawnCredentials
    rate_limiter: RateLimiter
    # Why checkpoints fail, for refusals and /log/health.
    publication_monitor: PublicationMonitor
    # Every data-serving route records through this (catalog.access).
    use_recorder: UseRecorder
    callback_policy: CallbackPolicy
    # Which push services the wallet's Web Push may use (none: off).
    web_push: WebPushConfig
    # The pool the exchange query on the loop sends providers' calls to while
    # no lifespan runs one of its own (its threads start on first use).
    provider_calls: ThreadPoolExecutor
    registry_trust: RegistryTrust
    adapter_bindings: BindingRegistry | None
    # Other registries whose codes /api/v1/verify accepts (CERTHUB_RECOGNISED_REGISTRIES).
    recognition: Recognition | None
    # The TSA that time-stamps signed PDFs (CERTHUB_TSA_URL), or none: PAdES B-B.
    pdf_timestamps: PdfTimestamps
    # The TSA that time-stamps the log's checkpoints (CERTHUB_AUDITLOG_TSA_URL), or none.
    checkpoint_tsa: TsaClient | None
    # The witnesses asked to cosign each checkpoint (CERTHUB_AUDITLOG_WITNESSES), or none.
    log_witnesses: LogWitnesses | None
    # What ``aclose`` releases: only what this root built itself.
    _query_engine: AsyncEngine | None = None
    _owns_query_engine: bool = False
    _owns_cache: bool = False
    _owns_read_sessions: bool = False

    def registrations(self) -> Iterator[tuple[type, object]]:
        """Each service with the type routes ask for it by (``wiring.Services.register``)."""
        yield Settings, self.settings
        yield Engine, self.engine
        yield sessionmaker, self.sessions
        if self.query_sessions is not None:
            yield async_sessionmaker, self.query_sessions
        yield ReadSessions, self.read_sessions
        yield Cache, self.cache
        yield RegistryConfig, self.registry
        yield LogConfig, self.log
        yield IdentityConfig, self.identity
        yield TokenAuthority, self.token_authority
        yield HolderAuthority, self.holder_authority
        yield StaffAuthority, self.staff_authority
        yield RateLimiter, self.rate_limiter
        yield PreAuthorizedCodeGrant, PreAuthorizedCodes(cache=self.cache)
        yield PublicationMonitor, self.publication_monitor
        yield UseLog, self.use_recorder
        yield CallbackPolicy, self.callback_policy
        yield WebPushConfig, self.web_push
        yield ThreadPoolExecutor, self.provider_calls
        yield RegistryTrust, self.registry_trust
        if self.adapter_bindings is not None:
            yield BindingRegistry, self.adapter_bindings
        if self.recognition is not None:
            yield Recognition, self.recognition
        yield PdfTimestamps, self.pdf_timestamps
        if self.log_witnesses is not None:
            yield LogWitnesses, self.log_witnesses

    def engines(self) -> list[Engine]:
        """The engines the app's statements run on (traced and pool-counted by the app)."""
        engines = [self.engine]
        if self._query_engine is not None:
            engines.append(self._query_engine.sync_engine)
        engines.extend(standby.engine for standby in self.read_sessions.standbys)
        return engines

    async def aclose(self) -> None:
        """Release what this root opened (at the app's shutdown)."""
        if self._owns_query_engine and self._query_engine is not None:
            await self._query_engine.dispose()
        if self._owns_cache:
            self.cache.close()
        if self._owns_read_sessions:
            self.read_sessions.close()
        if self.adapter_bindings is not None:
            self.adapter_bindings.close()
        if self.recognition is not None:
            self.recognition.close()
        self.pdf_timestamps.close()
        if self.checkpoint_tsa is not None:
            self.checkpoint_tsa.close()


def build_root(
    settings: Settings, *, engine: Engine | None = None, query_engine: AsyncEngine | None = None,
    cache: Cache | None = None, sessions: sessionmaker[Session] | None = None,
    read_sessions: ReadSessions | None = None,
) -> Root:
    """Build every service of one app from ``settings``.

    Without an ``engine`` one is built from the settings, and with it the
    exchange query's ``query_engine`` on PostgreSQL (certhub.db); both are
    the root's to dispose of. ``sessions`` stands in for the engine's own
    sessionmaker (tests bind sessions to a rolled-back transaction), and
    ``read_sessions`` for the read-only work's built from the settings.
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
    owns_read_sessions = read_sessions is None
    read_sessions = read_sessions or _read_sessions(settings, engine=engine, sessions=sessions)
    sessions = sessions or create_sessionmaker(engine)
    # With CERTHUB_KEY_TOKEN_* set, a signing.hsm.KeySecret carrying the PKCS#11 token: every key store
    # opened with it generates and signs in the token. Opened now, so a wrong PIN stops start-up.
    key_secret = settings.secret_bytes()
    token = token_of(key_secret)
    if token is not None:
        token.ensure_open()
    registry = RegistryConfig(
        registry_id=settings.registry_id, key_secret=key_secret,
        presentation_ttl_seconds=settings.presentation_ttl_seconds,
        dispute_deadline=timedelta(days=settings.dispute_deadline_days),
    )
    log = LogConfig(origin=log_origin(settings.registry_id),
                    max_lag=timedelta(seconds=settings.auditlog_max_lag_seconds),
                    checkpoint_interval_s=settings.auditlog_checkpoint_interval_seconds,
                    timestamp_tolerance=timedelta(seconds=settings.auditlog_tsa_tolerance_seconds)
                    if settings.auditlog_tsa_url else None)
    monitor = PublicationMonitor()
    recognition = Recognition(settings.recognised_registries, egress=settings.egress()) if settings.recognised_registries else None
    withdrawn = token_revocations.withdrawn_for(engine)
    return Root(
        settings=settings, engine=engine, sessions=sessions,
        query_sessions=create_async_sessionmaker(query_engine) if query_engine is not None else None,
        read_sessions=read_sessions, cache=cache, registry=registry, log=log,
        identity=IdentityConfig(registry_id=settings.registry_id, demo=settings.demo),
        token_authority=TokenAuthority(secret=key_secret, issuer=settings.registry_id,
                                       ttl_seconds=settings.access_token_ttl_seconds, revocations=withdrawn,
                                       authenticator=token.mac_key(ACCESS_TOKENS_MAC) if token else None),
        holder_authority=_holder_authority(settings, key_secret=key_secret),
        staff_authority=_staff_authority(settings, key_secret=key_secret),
        withdrawn=withdrawn,
        rate_limiter=_rate_limiter(settings, cache=cache),
        publication_monitor=monitor,
        # Each record's row names its request (X-Request-Id); each batch is counted (certhub.metrics).
        use_recorder=UseRecorder(max_lag=log.max_lag, monitor=monitor, request_id=current_request_id,
                                 observe=metrics.observe_use_records, timestamp_tolerance=log.timestamp_tolerance),
        callback_policy=CallbackPolicy.for_deployment(demo=settings.demo,
                                                      allow_loopback=settings.webhooks_allow_loopback),
        web_push=WebPushConfig(origins=settings.split_origins(settings.web_push_origins),
                               contact=settings.effective_web_push_contact),
        provider_calls=ThreadPoolExecutor(thread_name_prefix="certhub-provider"),
        registry_trust=RegistryTrust(
            registry_id=registry.registry_id, key_secret=key_secret, sessionmaker=sessions,
            recognised=recognition.trust_lists if recognition is not None else None),
        adapter_bindings=_adapter_bindings(settings),
        recognition=recognition,
        pdf_timestamps=PdfTimestamps.for_url(settings.tsa_url, egress=settings.egress()),
        checkpoint_tsa=TsaClient(url=settings.auditlog_tsa_url, egress=settings.egress())
        if settings.auditlog_tsa_url else None,
        log_witnesses=build_log_witnesses(settings),
        _query_engine=query_engine, _owns_query_engine=owns_query_engine, _owns_cache=owns_cache,
        _owns_read_sessions=owns_read_sessions,
    )


def _read_sessions(settings: Settings, *, engine: Engine, sessions: sessionmaker[Session] | None) -> ReadSessions:
    """Read-only work's sessions: on the standbys of CERTHUB_DATABASE_REPLICA_URLS while within the lag bound,
    else on the primary, in read-only transactions (``certhub.db.read_only_engine``). Given ``sessions``
    (tests' rolled-back transaction), those."""
    primary = sessions or create_sessionmaker(read_only_engine(engine))
    standbys = [Standby(name=_pool_name(url), engine=create_standby_engine(url))
                for url in settings.database_replica_urls]
    return ReadSessions(primary, primary_engine=engine, standbys=standbys,
                        max_lag_s=settings.database_replica_max_lag_seconds,
                        check_interval_s=settings.database_replica_check_seconds,
                        observe_pool=metrics.observe_read_pool, observe_lag=metrics.observe_replica_lag)


def _pool_name(url: str) -> str:
    """A standby's name in metrics and logs: host and port, never its credentials."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def build_log_witnesses(settings: Settings) -> LogWitnesses | None:
    """The log's witnesses and its k of n (docs/auditlog.md "Witnesses")."""
    if not settings.auditlog_witnesses:
        return None
    witnesses = [LogWitness(verifier=CosignerVerifier.from_key_string(w.vkey), url=w.url)
                 for w in settings.auditlog_witnesses]
    quorum = settings.auditlog_witness_quorum
    return LogWitnesses.over_egress(witnesses, threshold=len(witnesses) if quorum is None else quorum,
                                    egress=settings.egress(), timeout_s=settings.auditlog_witness_timeout_seconds,
                                    observe=metrics.observe_witness_round)


def _adapter_bindings(settings: Settings) -> BindingRegistry | None:
    """The bindings to providers' systems, each call timed and counted (certhub.metrics)."""
    if not settings.adapters_file:
        return None
    bindings = BindingRegistry.from_yaml(settings.adapters_file, egress=settings.egress())
    bindings.observer = metrics.ProviderMetrics()
    return bindings


def _rate_limiter(settings: Settings, *, cache: Cache) -> RateLimiter:
    """Per-department rate limits and quotas (identity.ratelimit), counted in the cache."""
    default = Limits(per_minute=settings.rate_limit_per_minute, daily=settings.daily_quota)
    return RateLimiter(cache, default=default, overrides={
        code: Limits.from_override(value, default=default) for code, value in settings.rate_limit_overrides.items()
    })


def _holder_authority(settings: Settings, *, key_secret: bytes) -> HolderAuthority:
    oidc = None
    if settings.oidc_issuer and settings.oidc_audience:
        oidc = OidcVerifier(issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                            jwks_url=settings.oidc_jwks_url, holder_code_claim=settings.oidc_holder_code_claim,
                            egress=settings.egress())
    token = token_of(key_secret)
    return HolderAuthority(secret=key_secret, issuer=settings.registry_id,
                           ttl_seconds=settings.holder_session_ttl_seconds, oidc=oidc,
                           authenticator=token.mac_key(HOLDER_SESSIONS_MAC) if token else None)


def _staff_authority(settings: Settings, *, key_secret: bytes) -> StaffAuthority:
    """Staff sessions (identity.staff_auth): their own OIDC client at the province's provider, their own MAC key."""
    oidc = code_flow = None
    if settings.staff_oidc_issuer and settings.staff_oidc_audience:
        secret = settings.staff_oidc_client_secret
        code_flow = AuthorizationCodeClient(
            issuer=settings.staff_oidc_issuer, client_id=settings.staff_oidc_audience,
            redirect_uri=settings.staff_oidc_redirect_uri or settings.registry_id.rstrip("/") + STAFF_CALLBACK_PATH,
            client_secret=secret.get_secret_value() if secret is not None else None, egress=settings.egress())
        oidc = StaffOidcVerifier(
            issuer=settings.staff_oidc_issuer, audience=settings.staff_oidc_audience,
            jwks_url=settings.staff_oidc_jwks_url, staff_id_claim=settings.staff_oidc_staff_id_claim,
            department_claim=settings.staff_oidc_department_claim, roles_claim=settings.staff_oidc_roles_claim,
            egress=settings.egress())
    token = token_of(key_secret)
    return StaffAuthority(secret=key_secret, issuer=settings.registry_id, ttl_seconds=settings.staff_session_ttl_seconds,
                          max_shift_seconds=settings.staff_shift_max_seconds, oidc=oidc, code_flow=code_flow,
                          authenticator=token.mac_key(STAFF_SESSIONS_MAC) if token else None)
