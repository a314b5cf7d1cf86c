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
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

from bench._serving import client_credentials_token, load, schema_url, serve_certhub, stop
from catalog.models import LicenceType, LicenceTypeIssuer, Matter
from certhub.db import create_db_engine, create_sessionmaker
from certhub.demo.seed import prepare_demo
from certhub.settings import Settings
from exchange.auditlog import log_origin, publish_checkpoint
from identity import clients
from identity.codes import citizen_id_check_character
from registry.presentations.models import Presentation
from registry.service import issue
from registry.service.authority import Actor
from signing import service as signing_service
from signing.qr import encode_presentation_qr

REGISTRY_ID = "https://registry.bench.test"
SECRET = "bench-secret-" + "b" * 40


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
                    session=session, actor=Actor(department_code=issuer),
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
            signer = signing_service.presentation_qr_signer(session=session, key_secret=key_secret)
            # The key must predate the codes it signs (verifiers refuse older codes).
            session.commit()
            now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
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


def run(args: list[str]) -> dict:
    options = _options(args)
    schema = f"bench_qr_{secrets.token_hex(4)}"
    admin = create_db_engine(options.database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database_url = schema_url(options.database_url, schema)
    process = None
    try:
        with tempfile.TemporaryDirectory(prefix="certhub-bench-") as data_dir:
            warm = options.threads * 8
            world = _prepare(database_url, options.requests + warm, Path(data_dir))
            process, url = serve_certhub(database_url=database_url, redis_url=options.redis_url,
                                         workers=options.workers, env={
                "CERTHUB_SECRET_KEY": SECRET, "CERTHUB_REGISTRY_ID": REGISTRY_ID, "CERTHUB_DATA_DIR": str(data_dir),
                # One department sends everything: lift its limits (the limiter's counting still runs).
                "CERTHUB_RATE_LIMIT_PER_MINUTE": "100000000", "CERTHUB_DAILY_QUOTA": "100000000"})
            token = client_credentials_token(url, world["client_id"], world["client_secret"])
            headers = {"Authorization": f"Bearer {token}"}
            time.sleep(max((world["not_before"] - datetime.now(UTC)).total_seconds(), 0))
            load(url, [("GET", "/healthz", None, None)] * warm, options.threads)
            noop = load(url, [("GET", "/healthz", None, None)] * options.requests, options.threads)

            def redemptions(codes):
                return [("POST", "/api/v1/presentations/redeem",
                         {"qr_text": code, "operator_id": "bench-clerk", "matter_code": world["matter"],
                          "purpose": "基准测试：窗口核验"}, headers) for code in codes]

            # Warm-up, not counted: each worker opens its database connections
            # and caches its statements on its first redemptions.
            load(url, redemptions(world["codes"][:warm]), options.threads)
            redeem = load(url, redemptions(world["codes"][warm:]), options.threads)
    finally:
        stop(process)
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
