"""Redemption at the counter, end to end over HTTP: throughput and latency
of `POST /api/v1/presentations/redeem` on PostgreSQL + Redis, beside a no-op
endpoint (`GET /healthz`) of the same server in the same run.

The server is `certhub serve`'s app (`certhub.asgi:app_from_environment`,
with its log checkpointer) under uvicorn with W worker processes on
loopback, in a PostgreSQL schema of its own (dropped afterwards). Codes are
made beforehand (signed by the registry's presentation key, stored like
`POST /api/v1/presentations` stores them); each request redeems a fresh one:
verify, one-time claim in Redis and in the database, licence status, use-log
record, disclosure. Clients: T threads with keep-alive connections.

Targets (issue #6): >= 300 redemptions/s and p99 <= 50 ms on 2 cores.

usage: python -m bench qr_redeem [--quick] [--requests N] [--threads T] [--workers W]
                                  [--database-url URL] [--redis-url URL]
(defaults: N 3000, T 8, W 2; URLs from CERTHUB_BENCH_DATABASE_URL / CERTHUB_TEST_DATABASE_URL
 and CERTHUB_BENCH_REDIS_URL / CERTHUB_TEST_REDIS_URL, else postgresql://postgres@127.0.0.1:5432/test
 and redis://127.0.0.1:6379/0)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import select, text

from catalog.codes import citizen_id_check_character
from catalog.models import LicenceType, LicenceTypeIssuer, Matter
from catalog.service import clients
from certhub.db import create_db_engine, create_sessionmaker
from certhub.demo.seed import prepare_demo
from certhub.settings import Settings
from exchange.auditlog import log_origin, publish_checkpoint
from registry.presentations.models import Presentation
from registry.service import issue
from registry.service.authority import Actor
from signing import service as signing_service
from signing.qr import encode_presentation_qr

REGISTRY_ID = "https://registry.bench.test"
SECRET = "bench-secret-" + "b" * 40
REPO_ROOT = Path(__file__).resolve().parent.parent


def _options(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench qr_redeem")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("CERTHUB_BENCH_DATABASE_URL")
                        or os.environ.get("CERTHUB_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default=os.environ.get("CERTHUB_BENCH_REDIS_URL")
                        or os.environ.get("CERTHUB_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0")
    options = parser.parse_args(args)
    if options.quick:
        options.requests = min(options.requests, 300)
    if not 10 <= options.requests <= 100_000 or not 1 <= options.threads <= 64 or not 1 <= options.workers <= 16:
        parser.error("requests 10..100000, threads 1..64, workers 1..16")
    return options


def _schema_url(url: str, schema: str) -> str:
    # libpq's options parameter: every connection of every worker works in the schema.
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def _citizen(n: int) -> str:
    first17 = f"350102{1970 + n % 40}0101{n % 1000:03d}"
    return first17 + citizen_id_check_character(first17)


def _face(licence_type: LicenceType) -> dict:
    values = {"string": "示例", "image": "示例", "date": "2020-01-01", "number": 1}
    face = {}
    for spec in licence_type.fields:
        if spec["type"] == "enum":
            face[spec["key"]] = spec["options"][0]
        elif spec["type"] in values:
            face[spec["key"]] = values[spec["type"]]
    return face


def _prepare(database_url: str, requests: int, data_dir: Path) -> dict:
    """Demo catalog and seals, licences for a few citizens, a counter client,
    `requests` stored and signed codes, a fresh log checkpoint."""
    settings = Settings(secret_key=SECRET, database_url=database_url, registry_id=REGISTRY_ID, data_dir=data_dir)
    prepare_demo(settings)
    key_secret = settings.secret_bytes()
    engine = create_db_engine(database_url)
    try:
        with create_sessionmaker(engine)() as session:
            licence_type, issuer = session.execute(
                select(LicenceType, LicenceTypeIssuer.department_code)
                .join(LicenceTypeIssuer, LicenceTypeIssuer.type_code == LicenceType.code)
                .where(LicenceType.holder_kind == "natural_person", LicenceType.is_current.is_(True))
                .order_by(LicenceType.id)
            ).first()
            given = licence_type.validity["kind"] == "given"
            identifiers = []
            for n in range(20):
                licence = issue.issue(
                    session, actor=Actor(department_code=issuer),
                    request=issue.IssueRequest(
                        type_code=licence_type.code, holder_name="张三丰", holder_code=_citizen(n),
                        holder_code_type="111", face=_face(licence_type),
                        valid_from=datetime(2025, 1, 1).date() if given else None,
                        valid_until=datetime(2035, 1, 1).date() if given else None,
                    ),
                    signer=issue.Signer(registry_id=REGISTRY_ID, key_secret=key_secret),
                )
                identifiers.append((licence.holder_code, licence.versions[-1].identifier))
            matter = session.scalars(select(Matter.code).order_by(Matter.id)).first()
            counter = clients.create(session=session, department_code=issuer, name="bench counter",
                                     scopes=["presentation:redeem"])
            signer = signing_service.presentation_qr_signer(session, key_secret=key_secret)
            # The key must predate the codes it signs (verifiers refuse older codes).
            session.commit()
            now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
            codes = []
            for n in range(requests):
                holder, identifier = identifiers[n % len(identifiers)]
                row = Presentation(id=secrets.token_urlsafe(12), holder_code=holder, holder_code_type="111",
                                   licence_identifiers=[identifier], disclosure="masked" if n % 2 else "full",
                                   kid=signer.kid, issued_at=now, expires_at=now + timedelta(seconds=600))
                session.add(row)
                codes.append(encode_presentation_qr(
                    signer=signer, issuer=REGISTRY_ID, presentation_id=row.id, licence_identifiers=[identifier],
                    disclosure=row.disclosure, issued_at=row.issued_at, expires_at=row.expires_at,
                ))
            publish_checkpoint(session=session, key_secret=key_secret, origin=log_origin(REGISTRY_ID))
            session.commit()
            return {"codes": codes, "matter": matter, "client_id": counter.client_id,
                    "client_secret": counter.client_secret, "not_before": now}
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(database_url: str, redis_url: str, workers: int, data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "CERTHUB_DATABASE_URL": database_url, "CERTHUB_REDIS_URL": redis_url,
           "CERTHUB_SECRET_KEY": SECRET, "CERTHUB_REGISTRY_ID": REGISTRY_ID, "CERTHUB_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(REPO_ROOT),
           # One department sends everything: lift its limits (the limiter's counting still runs).
           "CERTHUB_RATE_LIMIT_PER_MINUTE": "100000000", "CERTHUB_DAILY_QUOTA": "100000000"}
    process = subprocess.Popen(
        # `certhub serve`, as production runs it.
        [sys.executable, "-c", "from certhub.cli import main; main()", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited while starting")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the server did not start within 120 s")


def _load(url: str, requests: list, threads: int) -> dict:
    """Send every request (method, path, json, headers) from `threads` keep-alive clients.

    The clients share the machine with the server, so they are kept light:
    the standard library's HTTP client, bodies encoded before the clock starts.
    """
    work: queue.Queue = queue.Queue()
    for method, path, body, headers in requests:
        encoded = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        sent = dict(headers or {})
        if encoded is not None:
            sent["Content-Type"] = "application/json"
        work.put((method, path, encoded, sent))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    target = urlsplit(url)

    def client() -> None:
        mine, counts = [], {}
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            while True:
                try:
                    method, path, body, headers = work.get_nowait()
                except queue.Empty:
                    break
                started = time.perf_counter()
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                mine.append(time.perf_counter() - started)
                counts[response.status] = counts.get(response.status, 0) + 1
        finally:
            connection.close()
        with lock:
            latencies.extend(mine)
            for status, count in counts.items():
                statuses[status] = statuses.get(status, 0) + count

    pool = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def run(args: list[str]) -> dict:
    options = _options(args)
    schema = f"bench_qr_{secrets.token_hex(4)}"
    admin = create_db_engine(options.database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = _schema_url(options.database_url, schema)
    process = None
    try:
        with tempfile.TemporaryDirectory(prefix="certhub-bench-") as data_dir:
            warm = options.threads * 8
            world = _prepare(database_url, options.requests + warm, Path(data_dir))
            process, url = _serve(database_url, options.redis_url, options.workers, Path(data_dir))
            token = httpx.post(url + "/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(world["client_id"], world["client_secret"])).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            time.sleep(max((world["not_before"] - datetime.now(timezone.utc)).total_seconds(), 0))
            _load(url, [("GET", "/healthz", None, None)] * warm, options.threads)
            noop = _load(url, [("GET", "/healthz", None, None)] * options.requests, options.threads)

            def redemptions(codes):
                return [("POST", "/api/v1/presentations/redeem",
                         {"qr_text": code, "operator_id": "bench-clerk", "matter_code": world["matter"],
                          "purpose": "基准测试：窗口核验"}, headers) for code in codes]

            # Warm-up, not counted: each worker opens its database connections
            # and caches its statements on its first redemptions.
            _load(url, redemptions(world["codes"][:warm]), options.threads)
            redeem = _load(url, redemptions(world["codes"][warm:]), options.threads)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return {
        "redeem": redeem,
        "noop_healthz": noop,
        "setup": {"workers": options.workers, "client_threads": options.threads, "cores": os.cpu_count(),
                  "database": "postgresql", "cache": "redis", "rate_limits": "lifted for the one bench department"},
        "redeem_vs_noop_rate": round(redeem["per_second"] / noop["per_second"], 3),
        "targets": {"per_second": ">= 300", "p99_ms": "<= 50"},
    }
