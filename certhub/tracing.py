"""OpenTelemetry traces: off unless the standard ``OTEL_*`` variables ask for them.

On when ``OTEL_TRACES_EXPORTER`` names ``otlp`` (or ``console``), or an OTLP
endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_TRACES_EXPORTER=none``
keeps them off whatever else is set. The OTLP exporter (protobuf over
HTTP) reads its own variables (endpoint, headers, timeout);
``OTEL_SERVICE_NAME`` names the service (default ``certhub``). With
nothing set no provider, processor or exporter is built and nothing is
instrumented.

What is traced: each request (FastAPI, named by its route template), each
SQL statement of the app's engines (the statement's text with its
placeholders; SQLAlchemy's instrumentation records no parameter values),
and outbound HTTP through urllib3 (storage.egress, the one stack the hub
calls out with).

No span leaves with a personal identifier: every string attribute (a URL
as sent, a statement) passes the log's mask (``certhub.logs.mask_identifiers``)
in the exporter, and the URL's query string is dropped.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence

from fastapi import FastAPI
from sqlalchemy import Engine

from certhub.logs import mask_identifiers

log = logging.getLogger(__name__)
_SERVICE_NAME = "certhub"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_outbound_lock = threading.Lock()
_outbound_instrumented = False


def wanted_exporter(environ: Mapping[str, str] | None = None) -> str | None:
    """``otlp``, ``console`` or None (traces off), from the standard variables."""
    env = os.environ if environ is None else environ
    named = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named == "none" or env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if named in ("otlp", "console"):
        return named
    if named:
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported here (otlp, console, none): traces stay off", named)
        return None
    if any(env.get(name, "").strip() for name in _ENDPOINT_VARIABLES):
        return "otlp"
    return None


def tracer_provider_from_environment(environ: Mapping[str, str] | None = None):
    """A tracer provider exporting as the variables say, or None when traces are off."""
    exporter_name = wanted_exporter(environ)
    if exporter_name is None:
        return None
    # Imported only when traces are on: the SDK costs a process that never traces nothing.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    env = os.environ if environ is None else environ
    inner: object
    if exporter_name == "console":
        inner = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        inner = OTLPSpanExporter()
    service = env.get("OTEL_SERVICE_NAME", "").strip() or _SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(MaskingExporter(inner)))
    return provider


def instrument(app: FastAPI, *, engines: Sequence[Engine], environ: Mapping[str, str] | None = None):
    """Trace ``app``'s requests, its engines' statements and outbound HTTP
    when the variables ask for it; the provider, or None.

    The provider is registered in the app's services under its type (so a
    test, or whoever runs the app, can flush or shut it down); it also
    flushes at the process's exit."""
    provider = tracer_provider_from_environment(environ)
    if provider is None:
        return None
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    app.state.services.register(TracerProvider, provider)

    # Only the request's own span: one span per body chunk sent or received says nothing and costs much.
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=["receive", "send"])
    for engine in engines:
        _trace_statements(engine, provider)
    _trace_outbound_http(provider)
    return provider


def _trace_statements(engine: Engine, provider) -> None:
    """SQLAlchemy's instrumentation on one engine (not its global hook on
    create_engine, which a second app in the process would stack)."""
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=provider)
    connections = otel_metrics.NoOpMeter("certhub").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, connections, enable_commenter=False)


def _trace_outbound_http(provider) -> None:
    """urllib3, the process's outbound stack (storage.egress): instrumented once
    per process (it patches the library), with the first traced app's provider."""
    global _outbound_instrumented
    with _outbound_lock:
        if _outbound_instrumented:
            return
        from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

        URLLib3Instrumentor().instrument(tracer_provider=provider)
        _outbound_instrumented = True


def stop_tracing_outbound_http() -> None:
    """Undo ``_trace_outbound_http`` (a test that traced, before the next one runs)."""
    global _outbound_instrumented
    with _outbound_lock:
        if not _outbound_instrumented:
            return
        from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

        URLLib3Instrumentor().uninstrument()
        _outbound_instrumented = False


def _masked_value(key: str, value: object) -> object:
    if isinstance(value, str):
        if key in _URL_ATTRIBUTES:
            value = value.split("?", 1)[0]
        return mask_identifiers(value)
    if isinstance(value, (tuple, list)):
        return tuple(_masked_value(key, item) for item in value)
    return value


# Attributes that may carry a URL as sent, whose query string is dropped before the mask.
_URL_ATTRIBUTES = frozenset({"http.url", "url.full", "http.target", "url.query", "url.path"})


def masked_attributes(attributes: Mapping[str, object] | None) -> dict[str, object]:
    return {key: _masked_value(key, value) for key, value in (attributes or {}).items()}


class MaskingExporter:
    """An exporter that hands the next one copies of the spans with every
    string attribute masked (span, events and resource keep their shape)."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def export(self, spans):
        return self._inner.export([_masked_span(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _masked_span(span):
    from opentelemetry.sdk.trace import Event, ReadableSpan

    events = [Event(event.name, masked_attributes(event.attributes), event.timestamp) for event in span.events]
    return ReadableSpan(
        name=mask_identifiers(span.name), context=span.context, parent=span.parent, resource=span.resource,
        attributes=masked_attributes(span.attributes), events=events, links=span.links, kind=span.kind,
        instrumentation_scope=span.instrumentation_scope, status=span.status,
        start_time=span.start_time, end_time=span.end_time)
