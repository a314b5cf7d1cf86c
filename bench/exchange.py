"""The hub's overhead on a data query, at 1, 10 and 50 concurrent clients.

Overhead = latency of ``POST /api/v1/exchange/query`` through the hub minus
the latency of the direct call to the same provider: the hub runs as the
real app under uvicorn on loopback (PostgreSQL, Redis, the authorized-use
log with its checkpointer running), the provider is an HTTP server on
loopback answering the enterprise register's JSON, and both are measured
from the same client process (threads with keep-alive connections), so the
difference is what the hub adds: authentication, policy (agreement and
sharing attribute), the adapter's checks, masking, request hash and the log
record written in the request's transaction.

usage: python -m bench exchange [--quick] [--requests N] [--concurrency 1,10,50]
       [--database-url URL] [--redis-url URL]
Defaults: CERTHUB_BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/test,
CERTHUB_BENCH_REDIS_URL or redis://127.0.0.1:6379/0. A schema of its own is
created and dropped in the database.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import uvicorn
from sqlalchemy import event, text

from adapters.sources import BindingRegistry
from catalog.cache import RedisCache
from catalog.codes import uscc_check_character
from catalog.service import clients, document
from certhub.app import create_app
from certhub.db import create_db_engine, upgrade
from certhub.settings import Settings
from exchange.auditlog import publish_checkpoint

SECRET = "bench-secret-" + "b" * 40
PROVIDER = "113500007574011216"
CONSUMER = "11350102360444289T"
ITEM = "102001/000001"
MATTER = "11350102360444289T9900001000"
FIELDS = ["uscc", "name", "registration_status", "legal_representative"]


def _uscc(first17: str) -> str:
    return first17 + uscc_check_character(first17)


SUBJECT = _uscc("91350102MA8XYW123")
RECORD = json.dumps({"data": {"uscc": SUBJECT, "name": "福州示例餐饮有限公司", "legal_representative": "张三丰",
                              "registration_status": "存续（在营、开业、在册）"}}, ensure_ascii=False).encode()
CATALOG = {
    "version": 1,
    "departments": [
        {"code": PROVIDER, "name": "福建省市场监督管理局", "region": "350000", "level": "province"},
        {"code": CONSUMER, "name": "鼓楼区行政服务中心", "region": "350102", "level": "county"},
    ],
    "data_items": [{
        "code": ITEM, "name": "企业登记信息", "provider": PROVIDER, "subject_kind": "organisation",
        "fields": [
            {"key": "uscc", "label": "统一社会信用代码", "type": "string"},
            {"key": "name", "label": "名称", "type": "string"},
            {"key": "legal_representative", "label": "法定代表人", "type": "string", "sensitive": True,
             "mask": "name"},
            {"key": "registration_status", "label": "登记状态", "type": "string"},
        ],
        "sharing": {"attribute": "unconditional"}, "update_cycle": "realtime",
        "adapter": {"kind": "http", "name": "amr_enterprise"},
    }],
    "matters": [{"code": MATTER, "name": "开餐馆一件事", "department": CONSUMER,
                 "materials": [{"key": "enterprise", "name": "企业登记信息核验",
                                "satisfied_by": {"kind": "data_item", "code": ITEM}}]}],
}


class _Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a department's API gateway would
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(RECORD)))
        self.end_headers()
        self.wfile.write(RECORD)


def _serve_provider() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _schema_engine(url: str, schema: str):
    admin = create_db_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = create_db_engine(url)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        dbapi_connection.commit()

    return engine


def _prepare(engine, settings: Settings) -> tuple[str, str]:
    upgrade(engine)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        document.load(session=session, document=document.parse_mapping(CATALOG))
        new = clients.create(session=session, department_code=CONSUMER, name="bench", scopes=["exchange:query"])
        publish_checkpoint(session=session, key_secret=settings.secret_bytes(),
                           origin=f"{settings.registry_id.split('//')[-1]}/authorized-use-log")
        session.commit()
    return new.client_id, new.client_secret


def _settings(data_dir: str, database_url: str, redis_url: str) -> Settings:
    values = dict(secret_key=SECRET, data_dir=data_dir, registry_id="https://bench.certhub.test",
                  database_url=database_url, redis_url=redis_url)
    # Rate limits guard a real deployment; the benchmark measures latency, not the limiter's refusals.
    for name, value in (("rate_limit_per_minute", 10**9), ("daily_quota", 10**12)):
        if name in Settings.model_fields:
            values[name] = value
    return Settings(**values)


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cut[49] * 1000, "p99": cut[98] * 1000, "n": len(ordered)}


def _client_worker(args: tuple) -> list[float]:
    """One client thread: keep-alive connection, `count` sequential calls."""
    kind, url, headers, body, count = args
    latencies = []
    with httpx.Client(timeout=30, headers=headers) as http:
        for _ in range(count):
            start = time.perf_counter()
            response = http.post(url, content=body) if kind == "hub" else http.get(url)
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                raise RuntimeError(f"{kind} answered {response.status_code}: {response.text[:300]}")
            latencies.append(elapsed)
    return latencies


def _load(kind: str, url: str, headers: dict, body: bytes, *, clients_n: int, per_client: int) -> list[float]:
    results: list[list[float]] = [[] for _ in range(clients_n)]

    def run(index: int) -> None:
        results[index] = _client_worker((kind, url, headers, body, per_client))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [latency for part in results for latency in part]


def _measure(job: dict) -> dict:
    """Runs in a separate process, so the clients do not share the server's GIL."""
    figures = {}
    for n in job["concurrency"]:
        per_client = max(5, job["requests"] // n)
        _load("hub", job["hub_url"], job["hub_headers"], job["body"], clients_n=n, per_client=max(2, per_client // 10))
        hub = _percentiles(_load("hub", job["hub_url"], job["hub_headers"], job["body"], clients_n=n,
                                 per_client=per_client))
        direct = _percentiles(_load("direct", job["direct_url"], {}, b"", clients_n=n, per_client=per_client))
        figures[str(n)] = {
            "hub_ms": {k: round(v, 2) for k, v in hub.items() if k != "n"},
            "direct_ms": {k: round(v, 2) for k, v in direct.items() if k != "n"},
            "overhead_p50_ms": round(hub["p50"] - direct["p50"], 2),
            "overhead_p99_ms": round(hub["p99"] - direct["p99"], 2),
            "requests": hub["n"],
        }
    return figures


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench exchange")
    parser.add_argument("--quick", action="store_true", help="few requests: checks the setup, not the figures")
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--database-url", default=os.environ.get("CERTHUB_BENCH_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis-url", default=os.environ.get("CERTHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    options = parser.parse_args(args)
    requests_n = 100 if options.quick else options.requests
    concurrency = [int(c) for c in options.concurrency.split(",")]

    schema = f"certhub_bench_{secrets.token_hex(3)}"
    engine = _schema_engine(options.database_url, schema)
    provider = _serve_provider()
    provider_url = f"http://127.0.0.1:{provider.server_address[1]}"
    server = None
    with tempfile.TemporaryDirectory() as data_dir:
        settings = _settings(data_dir, options.database_url, options.redis_url)
        try:
            client_id, client_secret = _prepare(engine, settings)
            cache = RedisCache(options.redis_url, prefix=f"certhub-bench:{schema}:")
            app = create_app(settings, engine=engine, cache=cache, background_jobs=True)
            app.state.adapter_bindings = BindingRegistry.from_mapping({"http": [{
                "name": "amr_enterprise", "url": provider_url + "/enterprises/{subject}", "records": "/data",
                "fields": {key: f"/{key}" for key in FIELDS}, "retries": {"attempts": 1},
            }]}, environ={})
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                   access_log=False))
            threading.Thread(target=server.run, daemon=True).start()
            while not server.started:
                time.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            hub = f"http://127.0.0.1:{port}"
            token = httpx.post(f"{hub}/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, client_secret)).json()["access_token"]
            body = json.dumps({"subject": {"code": SUBJECT, "type": "001"}, "items": [ITEM], "matter": MATTER,
                               "purpose": "开餐馆一件事：核验企业登记状态", "case_number": "BENCH-1"},
                              ensure_ascii=False).encode()
            # The consumer's agreement: unconditional sharing approves it at once.
            httpx.post(f"{hub}/api/v1/exchange/agreements", headers={"Authorization": f"Bearer {token}",
                                                                      "X-Operator-Id": "bench"},
                       json={"item": ITEM, "matters": [MATTER], "fields": FIELDS, "reason": "bench"}
                       ).raise_for_status()
            job = {"hub_url": f"{hub}/api/v1/exchange/query", "direct_url": f"{provider_url}/enterprises/{SUBJECT}",
                   "hub_headers": {"Authorization": f"Bearer {token}", "X-Operator-Id": "bench",
                                   "Content-Type": "application/json"},
                   "body": body, "requests": requests_n, "concurrency": concurrency}
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                figures = pool.apply(_measure, (job,))
        finally:
            if server is not None:
                server.should_exit = True
                time.sleep(0.5)
            provider.shutdown()
            engine.dispose()
            cleanup = create_db_engine(options.database_url)
            with cleanup.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            cleanup.dispose()
    target = figures.get("10", {})
    return {
        "concurrency": figures,
        "reference": "direct GET to the same loopback provider, same client process, same run",
        "target_at_10": {"overhead_p50_ms": 5, "overhead_p99_ms": 20,
                         "met": bool(target) and target["overhead_p50_ms"] <= 5 and target["overhead_p99_ms"] <= 20},
        "quick": options.quick,
        "backend": {"database": "postgresql", "cache": "redis"},
    }


