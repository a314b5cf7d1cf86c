"""Traces: off with nothing set; with the standard OTEL_* variables, spans of
a request and its SQL reach a real OTLP/HTTP receiver on loopback (a small
HTTP server of the test's own, decoding the protobuf the exporter sends),
and none of them carries a holder's code."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider

from certhub import tracing
from certhub.app import create_app
from storage.cache import InProcessCache
from tests.factories.presentations import CITIZEN, build

OTEL_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                  "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED")


class Receiver:
    """What an OTLP/HTTP collector was sent: (resource attributes, span) pairs."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict, object]] = []
        self.lock = threading.Lock()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((resource, span) for span in scope_spans.spans)

    def wait_for(self, predicate, *, seconds: float = 20.0) -> list:
        deadline = time.monotonic() + seconds
        while True:
            with self.lock:
                found = [span for _, span in self.spans if predicate(span)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  # http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            received.take(body)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_GET(self) -> None:  # noqa: N802  # an outbound call for urllib3's span
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _attributes(span) -> dict:
    values = {}
    for attribute in span.attributes:
        value = attribute.value
        values[attribute.key] = value.string_value or value.int_value or value.bool_value
    return values


def _everything_said(span) -> str:
    return " ".join([span.name, *map(str, _attributes(span).values()),
                     *(str(_attributes(event)) for event in span.events)])


def test_no_exporter_is_built_with_nothing_set(monkeypatch, settings, migrated_engine, session_factory):
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert tracing.tracer_provider_from_environment() is None
    app = create_app(settings, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    assert app.state.services.find_optional(TracerProvider) is None
    assert not any("OpenTelemetry" in str(middleware.cls) for middleware in app.user_middleware)


@pytest.mark.parametrize(("environ", "exporter"), [
    ({}, None),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, None),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ({"OTEL_TRACES_EXPORTER": "zipkin"}, None),
    ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
])
def test_the_standard_variables_choose_the_exporter(environ, exporter):
    assert tracing.wanted_exporter(environ) == exporter


@pytest.mark.slow  # a second app, a flow and a receiver
def test_a_request_and_its_sql_reach_an_otlp_receiver_without_holder_codes(
        monkeypatch, receiver, settings, migrated_engine, session_factory, db_session):
    received, endpoint = receiver
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "certhub-under-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    app = create_app(settings, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    provider = app.state.services.find(TracerProvider)
    try:
        with TestClient(app) as client:
            world = build(client, app, db_session)
            assert world.redeem(world.code()).status_code == 200  # the citizen's code is a SQL parameter
            client.get(f"/api/v1/wallet/{CITIZEN}")  # a code in a path, as a careless client may send
            # Outbound HTTP through urllib3 (the stack the hub's calls out move to), a code in its URL.
            urllib3.PoolManager().request("GET", f"{endpoint}/lookup/{CITIZEN}?subject={CITIZEN}")
        provider.force_flush()

        [redeem] = received.wait_for(lambda span: span.name == "POST /api/v1/presentations/redeem")
        statements = received.wait_for(lambda span: "db.statement" in _attributes(span)
                                       or "db.query.text" in _attributes(span))
        assert any(span.trace_id == redeem.trace_id for span in statements)  # the route's own SQL
        outbound = received.wait_for(lambda span: any(str(v).startswith(endpoint + "/lookup")
                                                      for v in _attributes(span).values()))
        assert outbound
        with received.lock:
            spans = list(received.spans)
        assert {resource["service.name"] for resource, _ in spans} == {"certhub-under-test"}
        for _, span in spans:
            assert CITIZEN not in _everything_said(span), span
    finally:
        provider.shutdown()
        tracing.stop_tracing_outbound_http()
