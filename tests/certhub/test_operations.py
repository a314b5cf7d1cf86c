"""The operator's view of a running app: /metrics after a flow, the request
id (accepted, generated, echoed, kept with the use record), one JSON access
line per request, and /readyz on the app's own database and log."""

from __future__ import annotations

import json
import logging
import secrets
import socket

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from certhub.app import create_app
from certhub.logs import JsonLines, MaskIdentifiers, log_config
from certhub.request_context import MAX_LENGTH, accepted_request_id
from exchange.auditlog import LogEntry
from storage.cache import RedisCache
from tests.environment import REDIS_URL
from tests.factories.catalog import COUNTY_CENTRE
from tests.factories.licences import token_headers
from tests.factories.presentations import CITIZEN, build

REDEEM_ROUTE = "/api/v1/presentations/redeem"


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


@pytest.fixture
def scraper(world):
    return token_headers(world.client, world.session, COUNTY_CENTRE, scopes=("metrics:read",))


def _scrape(client, headers) -> tuple[str, dict[tuple[str, tuple], float]]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return response.text, samples


def _value(samples, name: str, **labels) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (sample, sample_labels), value in samples.items()
               if sample == name and wanted <= set(sample_labels))


def test_metrics_are_not_public(world):
    assert world.client.get("/metrics").status_code == 401
    # A department's token without the scope: refused.
    assert world.client.get("/metrics", headers=world.counter).status_code == 403


def test_counters_move_after_a_redemption_flow(world, scraper):
    _, before = _scrape(world.client, scraper)
    code = world.code()
    assert world.redeem(code).status_code == 200
    assert world.redeem(code).status_code == 409  # replayed: refused and recorded
    text, after = _scrape(world.client, scraper)

    def moved(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("certhub_use_records_total", kind="redemption", result="granted") == 1
    assert moved("certhub_use_records_total", kind="redemption", result="denied", reason="replayed") == 1
    assert moved("certhub_http_requests_total", route=REDEEM_ROUTE, status="200") == 1
    assert moved("certhub_http_requests_total", route=REDEEM_ROUTE, status="409") == 1
    assert moved("certhub_http_request_duration_seconds_count", route=REDEEM_ROUTE) == 2
    # Read when scraped: the log, the webhook outbox, the database itself.
    assert _value(after, "certhub_database_up") == 1
    assert _value(after, "certhub_log_size") >= 0 and ("certhub_log_size", ()) in after
    assert _value(after, "certhub_log_pending_entries") >= 1  # the two records, not yet sequenced
    assert ("certhub_log_checkpoint_age_seconds", ()) in after
    assert ("certhub_webhook_backlog", ()) in after
    # No holder's code anywhere in the exposition.
    assert CITIZEN not in text


def test_requests_are_labelled_by_route_template_not_path(world, scraper):
    identifier = world.residence["identifier"]
    assert world.client.get(f"/api/v1/licences/{identifier}", headers=world.city).status_code == 200
    text, samples = _scrape(world.client, scraper)
    assert identifier not in text
    assert _value(samples, "certhub_http_requests_total", route="/api/v1/licences/{identifier}") >= 1
    # A path no route matches is counted under one label, whatever it was.
    world.client.get(f"/api/v1/no-such-thing/{CITIZEN}")
    text, samples = _scrape(world.client, scraper)
    assert CITIZEN not in text
    assert _value(samples, "certhub_http_requests_total", route="<unmatched>", status="404") >= 1


def test_a_request_id_is_generated_echoed_and_kept_with_the_use_record(world):
    response = world.redeem(world.code())
    assert response.status_code == 200
    generated = response.headers["X-Request-Id"]
    assert accepted_request_id(generated) == generated
    [entry] = world.session.scalars(select(LogEntry).where(LogEntry.kind == "redemption"))
    assert entry.request_id == generated


def test_a_clients_request_id_is_accepted_when_safe(world):
    chosen = "dept-sys:2026-12-07.0001"
    response = world.redeem(world.code(), headers={**world.counter, "X-Request-Id": chosen})
    assert response.headers["X-Request-Id"] == chosen
    entries = list(world.session.scalars(select(LogEntry).where(LogEntry.request_id == chosen)))
    assert len(entries) == 1 and entries[0].kind == "redemption"


@pytest.mark.parametrize("unsafe", ["a" * (MAX_LENGTH + 1), "two words", "line\\nbreak", "", "-leading", "<script>"])
def test_an_unsafe_request_id_is_replaced(world, unsafe):
    response = world.client.get("/healthz", headers={"X-Request-Id": unsafe})
    echoed = response.headers["X-Request-Id"]
    assert echoed != unsafe and accepted_request_id(echoed) == echoed


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonLines())
        self.addFilter(MaskIdentifiers())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def access_lines():
    logger = logging.getLogger("certhub.access")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_one_json_access_line_per_request_with_its_id(world, access_lines):
    identifier = world.residence["identifier"]
    response = world.client.get(f"/api/v1/licences/{identifier}", headers={**world.city, "X-Request-Id": "req-42"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in access_lines]
    [line] = [line for line in lines if line.get("request_id") == "req-42"]
    assert line["method"] == "GET" and line["route"] == "/api/v1/licences/{identifier}"
    assert line["status"] == 200 and line["duration_ms"] >= 0
    assert line["logger"] == "certhub.access" and line["level"] == "info" and line["time"].endswith("Z")
    assert identifier not in json.dumps(lines)


def test_json_is_the_format_that_replaces_uvicorns_access_line():
    config = log_config(log_format="json")
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
    assert config["loggers"]["certhub.access"]["level"] == "INFO"
    assert all(handler["formatter"] == "json" for handler in config["handlers"].values())
    assert "certhub.access" not in log_config(log_format="json", access_log=False)["loggers"]
    text = log_config(log_format="text")
    assert "certhub.access" not in text["loggers"] and "json" not in text["formatters"]
    with pytest.raises(ValueError):
        log_config(log_format="xml")


def test_ready_when_the_database_answers_and_the_log_serves(world):
    response = world.client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["log"]["ok"]
    assert "redis" not in body["checks"]  # the in-process cache: nothing to reach


def test_not_ready_while_the_log_has_no_checkpoint(client, app, db_session):
    build(client, app, db_session, log=False)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] and not body["checks"]["log"]["ok"]
    assert "checkpoint" in body["checks"]["log"]["detail"]
    # Liveness is another matter: the process answers.
    assert client.get("/healthz").status_code == 200


def test_not_ready_when_the_configured_redis_does_not_answer(world, settings, migrated_engine, session_factory):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = RedisCache(f"redis://127.0.0.1:{port}/0")
    try:
        app = create_app(settings, engine=migrated_engine, cache=dead, sessions=session_factory)
        response = TestClient(app).get("/readyz")  # no lifespan: it would subscribe to the dead Redis
    finally:
        dead.close()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["log"]["ok"] and not checks["redis"]["ok"]


@pytest.mark.skipif(REDIS_URL is None, reason="needs Redis: set CERTHUB_TEST_REDIS_URL (CI does)")
def test_a_live_redis_is_ready_and_reported_up(world, scraper, settings, migrated_engine, session_factory):
    live = RedisCache(REDIS_URL, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    try:
        app = create_app(settings, engine=migrated_engine, cache=live, sessions=session_factory)
        with TestClient(app) as client:
            response = client.get("/readyz")
            assert response.status_code == 200, response.text
            assert response.json()["checks"]["redis"] == {"ok": True, "detail": None}
            _, samples = _scrape(client, scraper)
            assert _value(samples, "certhub_redis_up") == 1
    finally:
        live.close()
