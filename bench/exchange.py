"""The hub's overhead on a data query, at 1, 10 and 50 concurrent clients.

Overhead = latency of ``POST /api/v1/exchange/query`` through the hub minus
the latency of the direct call to the same provider. Each party runs in a
process of its own, as in production:
- the hub: `certhub serve --workers W` (PostgreSQL in a schema of its own,
  Redis, the authorized-use log with its checkpointer), its adapter bound
  to the provider by an adapters file;
- the provider: an HTTP server on loopback answering the enterprise
  register's JSON after a configurable service time (a department's system
  looks the record up; `--provider-ms 0` makes it answer at once);
- the clients: threads with keep-alive connections, measuring both paths
  with the same HTTP client.
The difference is what the hub adds: authentication, rate limit, policy
(agreement and sharing attribute), the adapter's checks and call, masking,
request hash and the log record written in the request's transaction.

usage: python -m bench exchange [--quick] [--requests N] [--concurrency 1,10,50]
       [--provider-ms MS] [--workers W] [--database-url URL] [--redis-url URL]
Defaults: 2000 requests per level, provider 20 ms, 2 workers;
CERTHUB_BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/test,
CERTHUB_BENCH_REDIS_URL or redis://127.0.0.1:6379/0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import urllib3
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench._serving import client_credentials_token, cpu_seconds_of_tree, load, schema_url, serve_certhub, stop
from catalog.service import document
from certhub.db import create_db_engine, upgrade
from certhub.settings import Settings
from exchange.auditlog import publish_checkpoint
from identity import clients
from identity.codes import uscc_check_character

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
        if self.server.service_s:
            time.sleep(self.server.service_s)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(RECORD)))
        self.end_headers()
        self.wfile.write(RECORD)


def _run_provider(ports, service_ms: float) -> None:
    """The department's system, in a process of its own (no shared interpreter lock with anyone)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    server.daemon_threads = True
    server.service_s = service_ms / 1000
    ports.put(server.server_address[1])
    server.serve_forever()


def _prepare(database_url: str, settings: Settings) -> tuple[str, str]:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            document.load(session=session, document=document.parse_mapping(CATALOG))
            new = clients.create(session=session, department_code=CONSUMER, name="bench", scopes=["exchange:query"])
            publish_checkpoint(session=session, key_secret=settings.secret_bytes(),
                               origin=f"{settings.registry_id.split('//')[-1]}/authorized-use-log")
            session.commit()
        return new.client_id, new.client_secret
    finally:
        engine.dispose()


def _measure(job: dict) -> dict:
    """Runs in a separate process, so the clients share no interpreter lock with the others."""
    hub = [("POST", "/api/v1/exchange/query", job["body"], job["hub_headers"])]
    direct = [("GET", job["direct_path"], None, {})]
    figures = {}
    for n in job["concurrency"]:
        per_level = max(job["requests"], 5 * n)
        load(job["hub_url"], hub * max(2 * n, per_level // 10), n)  # warm-up: connections, caches
        cpu_before = cpu_seconds_of_tree(job["hub_pid"])
        through_hub = load(job["hub_url"], hub * per_level, n)
        cpu_after = cpu_seconds_of_tree(job["hub_pid"])
        straight = load(job["provider_url"], direct * per_level, n)
        figures[str(n)] = {
            "hub_ms": {"p50": through_hub["p50_ms"], "p99": through_hub["p99_ms"]},
            "direct_ms": {"p50": straight["p50_ms"], "p99": straight["p99_ms"]},
            "overhead_p50_ms": round(through_hub["p50_ms"] - straight["p50_ms"], 2),
            "overhead_p99_ms": round(through_hub["p99_ms"] - straight["p99_ms"], 2),
            "hub_per_second": through_hub["per_second"],
            # All the hub's processes, its background threads included.
            "hub_cpu_ms_per_query": (round((cpu_after - cpu_before) * 1000 / through_hub["requests"], 2)
                                     if cpu_before is not None and cpu_after is not None else None),
            "requests": through_hub["requests"],
            "statuses": through_hub["statuses"],
        }
        if set(through_hub["statuses"]) != {"200"}:
            raise RuntimeError(f"the hub answered {through_hub['statuses']} at {n} clients")
    return figures


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench exchange")
    parser.add_argument("--quick", action="store_true", help="few requests: checks the setup, not the figures")
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--provider-ms", type=float, default=20.0,
                        help="the provider's own service time per lookup (0: answers at once)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("CERTHUB_BENCH_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis-url", default=os.environ.get("CERTHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    options = parser.parse_args(args)
    if not 0 <= options.provider_ms <= 10_000 or not 1 <= options.workers <= 16 or options.requests < 10:
        parser.error("provider-ms 0..10000, workers 1..16, requests >= 10")
    requests_n = 100 if options.quick else options.requests
    concurrency = [int(c) for c in options.concurrency.split(",")]

    schema = f"certhub_bench_{secrets.token_hex(3)}"
    admin = create_db_engine(options.database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = schema_url(options.database_url, schema)
    spawn = multiprocessing.get_context("spawn")
    ports = spawn.Queue()
    provider = spawn.Process(target=_run_provider, args=(ports, options.provider_ms), daemon=True)
    provider.start()
    hub_process = None
    try:
        provider_url = f"http://127.0.0.1:{ports.get(timeout=30)}"
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(secret_key=SECRET, data_dir=data_dir, registry_id="https://bench.certhub.test",
                                database_url=database_url)
            client_id, client_secret = _prepare(database_url, settings)
            adapters_file = Path(data_dir) / "adapters.yaml"
            # JSON is YAML: the binding the hub's adapter uses for the provider.
            adapters_file.write_text(json.dumps({"http": [{
                "name": "amr_enterprise", "url": provider_url + "/enterprises/{subject}", "records": "/data",
                "fields": {key: f"/{key}" for key in FIELDS}, "retries": {"attempts": 1},
            }]}), encoding="utf-8")
            hub_process, hub = serve_certhub(database_url=database_url, redis_url=options.redis_url,
                                             workers=options.workers, env={
                "CERTHUB_SECRET_KEY": SECRET, "CERTHUB_DATA_DIR": data_dir,
                "CERTHUB_REGISTRY_ID": "https://bench.certhub.test", "CERTHUB_ADAPTERS_FILE": str(adapters_file),
                # Rate limits guard a real deployment; the benchmark measures latency, not refusals.
                "CERTHUB_RATE_LIMIT_PER_MINUTE": "1000000000", "CERTHUB_DAILY_QUOTA": "1000000000000"})
            token = client_credentials_token(hub, client_id, client_secret)
            # The consumer's agreement: unconditional sharing approves it at once.
            agreed = urllib3.request("POST", f"{hub}/api/v1/exchange/agreements", headers={
                "Authorization": f"Bearer {token}", "X-Operator-Id": "bench"},
                json={"item": ITEM, "matters": [MATTER], "fields": FIELDS, "reason": "bench"})
            if agreed.status >= 400:
                raise RuntimeError(f"the agreement was refused: HTTP {agreed.status}")
            body = {"subject": {"code": SUBJECT, "type": "001"}, "items": [ITEM], "matter": MATTER,
                    "purpose": "开餐馆一件事：核验企业登记状态", "case_number": "BENCH-1"}
            job = {"hub_url": hub, "provider_url": provider_url, "direct_path": f"/enterprises/{SUBJECT}",
                   "hub_headers": {"Authorization": f"Bearer {token}", "X-Operator-Id": "bench"},
                   "body": body, "requests": requests_n, "concurrency": concurrency, "hub_pid": hub_process.pid}
            with spawn.Pool(1) as pool:
                figures = pool.apply(_measure, (job,))
    finally:
        stop(hub_process)
        provider.terminate()
        provider.join(5)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    target = figures.get("10", {})
    return {
        "concurrency": figures,
        "reference": "direct GET to the same provider, same clients, same run",
        "setup": {"workers": options.workers, "provider_service_ms": options.provider_ms,
                  "cores": os.cpu_count(), "database": "postgresql", "cache": "redis"},
        "target_at_10": {"overhead_p50_ms": 5, "overhead_p99_ms": 20,
                         "met": bool(target) and target["overhead_p50_ms"] <= 5 and target["overhead_p99_ms"] <= 20},
        "quick": options.quick,
    }
