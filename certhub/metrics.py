"""Prometheus metrics: every definition in one place, and ``GET /metrics``.

Counted as things happen, in every worker process: requests by route
template (``certhub.request_context``), use records by kind, result and
reason (redemptions and their refusals, department queries by data item:
``observe_use_records``, called by the use log as it appends), provider
calls by binding with their latency and each binding's circuit state
(``ProviderMetrics``, the adapters' ``ProviderObserver``), connections
checked out of the database pool.

Read when scraped, by the worker that answers, one bounded query each:
the log's size, its pending entries and its checkpoint's age, the webhook
backlog, whether Redis answers (``ScrapeTimeCollector``).

Several workers (``certhub serve --workers N``): prometheus-client's
multiprocess mode. ``certhub serve`` points ``PROMETHEUS_MULTIPROC_DIR``
at a fresh directory under the data directory before any worker starts
(``certhub.metrics_dir``); each worker writes its counts there and
the one answering a scrape adds them all up. The variable must be set
before this module is first imported: prometheus-client chooses where
values live at import.

Not public: ``/metrics`` asks for a client token with the ``metrics:read``
scope (docs/monitoring.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.access import UseRecord
from certhub.metrics_dir import MULTIPROC_ENV
from storage.units import bounded

log = logging.getLogger(__name__)

# Seconds: the request and provider-call buckets, from a cached read to a slow provider.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A scrape waits at most this long for one of its database statements.
SCRAPE_STATEMENT_TIMEOUT_S = 2.0
# Counted up to this many (a backlog past it is a backlog all the same).
WEBHOOK_BACKLOG_CAP = 100_000

HTTP_REQUESTS = Counter("certhub_http_requests", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("certhub_http_request_duration_seconds", "Time to answer a request, by route template",
                         ["method", "route"], buckets=_LATENCY_BUCKETS)
USE_RECORDS = Counter("certhub_use_records",
                      "Use records appended (redemptions, department queries, downloads...), by result and "
                      "refusal code; item is the data item or licence type of a one-item record",
                      ["kind", "result", "reason", "item"])
PROVIDER_CALLS = Histogram("certhub_provider_call_duration_seconds",
                           "Calls to a provider's system through an adapter binding, by outcome",
                           ["binding", "outcome"], buckets=_LATENCY_BUCKETS)
# 0 closed, 1 half-open, 2 open: the worst of the live workers (each breaker is per process).
CIRCUIT_STATE = Gauge("certhub_provider_circuit_state", "A binding's circuit breaker: 0 closed, 1 half-open, 2 open",
                      ["binding"], multiprocess_mode="livemax")
DB_POOL_IN_USE = Gauge("certhub_db_pool_connections_in_use", "Database connections checked out of the pool",
                       multiprocess_mode="livesum")
# Set by the process whose checkpointer asks the witnesses (docs/auditlog.md "Witnesses").
WITNESS_COSIGNATURES = Gauge("certhub_log_witness_cosignatures",
                             "Witnesses that cosigned the log's latest checkpoint in the last round",
                             multiprocess_mode="livemax")
WITNESS_POLICY_MET = Gauge("certhub_log_witness_policy_met",
                           "1 when the last witness round met the log's k-of-n policy, else 0",
                           multiprocess_mode="livemax")
# Read-only units of work (storage.units.replicas): the pool that served each, and each standby's lag.
READ_UNITS = Counter("certhub_db_read_units", "Read-only units of work, by the pool that served them "
                     "(primary, or a hot standby by host:port)", ["pool"])
REPLICA_LAG = Gauge("certhub_db_replica_lag_seconds", "How far a hot standby was behind the primary at its last "
                    "check, by WAL position; -1 when it could not be measured (down, or not in recovery)",
                    ["replica"], multiprocess_mode="livemax")
_CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}
# Whether prometheus-client chose files when it was imported (PROMETHEUS_MULTIPROC_DIR
# set then): the counts are where it put them, whatever the variable says later.
_MULTIPROCESS = bool(os.environ.get(MULTIPROC_ENV)) and prometheus_values.ValueClass is not prometheus_values.MutexValue


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def observe_read_pool(pool: str) -> None:
    READ_UNITS.labels(pool=pool).inc()


def observe_replica_lag(replica: str, lag_seconds: float | None) -> None:
    REPLICA_LAG.labels(replica=replica).set(-1 if lag_seconds is None or lag_seconds == float("inf") else lag_seconds)


def observe_witness_round(*, cosigned: int, met: bool) -> None:
    WITNESS_COSIGNATURES.set(cosigned)
    WITNESS_POLICY_MET.set(1 if met else 0)


def observe_use_records(records: Sequence[UseRecord]) -> None:
    """Count the records a request appends (``UseRecorder``'s observer).

    No label carries a subject, an operator or a department: the reason is a
    refusal code, the item a catalog code (a data item or licence type)."""
    for record in records:
        items = record.data_items
        item = items[0] if len(items) == 1 else ""
        USE_RECORDS.labels(record.kind, record.result, record.reason_code or "", item).inc()


class ProviderMetrics:
    """The adapters' ``ProviderObserver``: each call's latency and outcome, and the breaker's state after it."""

    def __init__(self) -> None:
        # The breaker's state as last written, per binding: almost every call
        # leaves it as it was, and a write to the shared (multiprocess) file is
        # the costly part of a metric.
        self._circuit_written: dict[str, float] = {}

    def call_finished(self, *, binding: str, outcome: str, seconds: float, circuit_state: str) -> None:
        PROVIDER_CALLS.labels(binding, outcome).observe(seconds)
        value = _CIRCUIT_VALUES.get(circuit_state, 2)
        if self._circuit_written.get(binding) != value:
            CIRCUIT_STATE.labels(binding).set(value)
            self._circuit_written[binding] = value


def _checked_out(*_: object) -> None:
    DB_POOL_IN_USE.inc()


def _checked_in(*_: object) -> None:
    DB_POOL_IN_USE.dec()


def watch_pool(engine: Engine) -> None:
    """Count the connections checked out of ``engine``'s pool (in every worker);
    once per engine, however many apps share it."""
    if not event.contains(engine, "checkout", _checked_out):
        event.listen(engine, "checkout", _checked_out)
        event.listen(engine, "checkin", _checked_in)


class ScrapeTimeCollector(Collector):
    """The gauges that need the database or Redis, read when scraped."""

    def __init__(self, *, sessions: Callable[[], sessionmaker[Session]], log_health: Callable[[Session], object],
                 redis_ping: Callable[[], None] | None) -> None:
        self._sessions = sessions
        self._log_health = log_health
        self._redis_ping = redis_ping

    def collect(self) -> Iterable[Metric]:
        yield from self._database_gauges()
        if self._redis_ping is not None:
            up = GaugeMetricFamily("certhub_redis_up", "1 when Redis answered a ping at this scrape")
            up.add_metric([], 1.0 if _answers(self._redis_ping) else 0.0)
            yield up

    def _database_gauges(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("certhub_database_up", "1 when the database answered this scrape's statements")
        figures: dict[str, float] = {}
        try:
            with bounded(self._sessions(), lock_timeout_s=SCRAPE_STATEMENT_TIMEOUT_S,
                         statement_timeout_s=SCRAPE_STATEMENT_TIMEOUT_S) as session:
                figures = _database_figures(session, self._log_health)
        except Exception as error:  # a scrape reports the database down rather than failing
            log.warning("metrics: the database did not answer the scrape (%s)", type(error).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        for name, help_text in _DATABASE_GAUGES.items():
            if name in figures:
                gauge = GaugeMetricFamily(name, help_text)
                gauge.add_metric([], figures[name])
                yield gauge


_DATABASE_GAUGES = {
    "certhub_log_size": "Entries in the authorized-use log's last published checkpoint",
    "certhub_log_pending_entries": "Use records not yet sequenced into the log (counted up to a cap)",
    "certhub_log_checkpoint_age_seconds": "Age of the log's last published checkpoint",
    "certhub_webhook_backlog": "Webhook deliveries waiting to be made (counted up to a cap)",
}


def _database_figures(session: Session, log_health: Callable[[Session], object]) -> dict[str, float]:
    # Imported here: the webhook outbox belongs to the adapters, read only when scraped.
    from adapters.models import WebhookDelivery

    figures: dict[str, float] = {}
    health = log_health(session)
    size, age, pending = (getattr(health, name, None) for name in
                          ("checkpoint_size", "checkpoint_age_seconds", "pending_entries"))
    if size is not None:
        figures["certhub_log_size"] = float(size)
    if age is not None:
        figures["certhub_log_checkpoint_age_seconds"] = float(age)
    if pending is not None:
        figures["certhub_log_pending_entries"] = float(pending)
    waiting = select(WebhookDelivery.id).where(WebhookDelivery.status == "pending").limit(WEBHOOK_BACKLOG_CAP)
    figures["certhub_webhook_backlog"] = float(session.scalar(select(func.count()).select_from(waiting.subquery())) or 0)
    return figures


def _answers(ping: Callable[[], None]) -> bool:
    try:
        ping()
    except Exception:
        return False
    return True


def exposition(scrape_time: Collector) -> tuple[bytes, str]:
    """The text a scrape gets: every worker's counts (multiprocess mode) or
    this process's, and the scrape-time gauges."""
    if _MULTIPROCESS:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry(auto_describe=True)
        for metric in (HTTP_REQUESTS, HTTP_LATENCY, USE_RECORDS, PROVIDER_CALLS, CIRCUIT_STATE, DB_POOL_IN_USE):
            registry.register(metric)
    registry.register(scrape_time)
    return generate_latest(registry), CONTENT_TYPE_LATEST
