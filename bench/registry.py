"""E-licence issuance rate and holder lookup latency on PostgreSQL.

1. Issuance end to end through the registry's batch issue
   (`registry.service.bulk.LicenceImporter`, what `certhub licences import`
   runs: validate, number, seal, store, index in a status list), one unit
   of work per `--batch` licences as a bulk issuing job would, printed beside
   the raw ES256 signing rate of the same run (cryptography signing the
   licence's canonical record bytes: the least work any implementation
   sealing these licences must do) and the bench process's own CPU per
   licence (the database does the rest).
2. Holder lookup: the table is filled up to `--lookup-rows` licences with
   a bulk COPY (rows shaped like issued ones, spread over holders with 1-5
   licences each), then the wallet's own query (`registry.service.reads.wallet`,
   first page of a holder's licences with type names and open disputes) is
   timed for random holders: p50 / p99 at the caller, and inside PostgreSQL
   (EXPLAIN ANALYZE) for a sample, which separates the query from the
   machine's scheduling.

Everything happens in a throwaway schema (`bench_registry`) of the
database given, built by the migrations and dropped at the end.

usage: python -m bench registry [--count N] [--lookup-rows M] [--lookups K]
                                [--batch B] [--database-url URL] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from adapters.imports.mapping import MappedRow
from catalog.service import document
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.demo.seed import CATALOG_FILE
from identity.codes import uscc_check_character
from registry.models import Licence
from registry.service import issue, reads
from registry.service.authority import Actor
from registry.service.bulk import LicenceImporter, Outcome
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from signing.canonical import canonical_json
from signing.picture import draw_round_seal

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_registry"
REGISTRY_ID = "https://registry.bench.test"
KEY_SECRET = b"bench-registry-secret-" + b"b" * 32
BUSINESS_LICENCE = "11100000032316376T001"  # 营业执照 in the demo catalog
ISSUER = "113501028147087619"  # 福州市鼓楼区市场监督管理局
SEAL_VALIDITY = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))


def _engine(url: str) -> Engine:
    """An engine whose every connection works in the bench schema."""
    engine = create_db_engine(url)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{SCHEMA}"')
        dbapi_connection.commit()

    return engine


def _reset_schema(url: str, *, create: bool) -> None:
    admin = create_db_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            if create:
                connection.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    finally:
        admin.dispose()


def _company(serial: int) -> tuple[str, str]:
    """A well-formed USCC and a name for holder number `serial`."""
    first17 = f"91350102MA{serial:07d}"
    return first17 + uscc_check_character(first17), f"福州演示{serial}号餐饮有限公司"


def _face(code: str, name: str) -> dict:
    return {
        "uscc": code, "name": name, "company_type": "有限责任公司（自然人投资或控股）", "legal_representative": "陈建国",
        "business_scope": "餐饮服务；食品销售", "registered_capital": "100万元", "established_date": "2021-03-18",
        "domicile": "福建省福州市鼓楼区东街88号", "registration_authority": "福州市鼓楼区市场监督管理局",
        "registration_date": "2021-03-18",
    }


def _prepare(session: Session) -> None:
    document.load(session=session, document=document.parse_yaml(CATALOG_FILE.read_bytes()))
    ensure_signing_anchors(session=session, key_secret=KEY_SECRET, maker_name="福建省电子印章制作中心")
    signing_service.create_seal(
        session=session, owner_department_code=ISSUER, department_name="福州市鼓楼区市场监督管理局", seal_type="电子证照专用章",
        licence_type_codes=[BUSINESS_LICENCE], valid_from=SEAL_VALIDITY[0], valid_to=SEAL_VALIDITY[1],
        key_secret=KEY_SECRET, picture_png=draw_round_seal(organization_name="福州市鼓楼区市场监督管理局",
                                                          seal_type="电子证照专用章"),
    )
    session.commit()


def _rows(count: int, *, start: int = 0) -> list[MappedRow]:
    rows = []
    for serial in range(start, start + count):
        code, name = _company(serial)
        rows.append(MappedRow(ordinal=serial, row=serial + 1, source_key=f"bench-{serial}", holder_name=name,
                              holder_code=code, holder_code_type="001", valid_from=None, valid_until=None,
                              face=_face(code, name)))
    return rows


def _issue_rate(engine: Engine, *, count: int, batch: int) -> dict:
    make = create_sessionmaker(engine)
    signer = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    actor = Actor(department_code=ISSUER, client_id="bench", operator="bench")
    importer = LicenceImporter(actor=actor, type_code=BUSINESS_LICENCE, source_system="bench", signer=signer)
    # Rows are built before the clock starts: the bench measures the registry, not the fixture.
    rows = _rows(count)
    started, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, count, batch):
        with make() as session:
            outcomes = importer.write_batch(session=session, rows=rows[offset:offset + batch], run_key="bench")
            session.commit()
        refused = [o for o in outcomes if o.outcome != Outcome.ISSUED]
        assert not refused, refused[0]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with make() as session:
        stored = session.scalar(select(func.count()).select_from(Licence))
    assert stored == count, f"issued {stored} of {count}"
    # The bench process's own CPU per licence: the Python side of the path,
    # which the machine's other load inflates far less than the wall clock.
    return {"issued": count, "seconds": round(elapsed, 2), "licences_per_s": round(count / elapsed, 1),
            "client_cpu_ms_per_licence": round(cpu * 1000 / count, 3)}


def _raw_es256_rate(seconds: float) -> float:
    """cryptography's ES256 over one licence record's canonical bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    code, name = _company(1)
    data = canonical_json({"identifier": "1.2.156.3005.2." + BUSINESS_LICENCE, "holder_code": code,
                           "holder_name": name, "face": _face(code, name)})
    algorithm = ec.ECDSA(hashes.SHA256())
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            for _ in range(50):
                key.sign(data, algorithm)
            count += 50
        best = max(best, count / (time.perf_counter() - start))
    return round(best, 1)


def _fill(engine: Engine, *, total: int, seed: int) -> int:
    """COPY synthetic licences until the table holds `total`; returns how many holders they belong to.

    The rows carry everything the wallet's query reads; they have no sealed
    versions (the list needs none) and index into the issued status list's
    id beyond its size, which nothing checks in this throwaway schema.
    """
    rng = random.Random(seed)
    with engine.connect() as connection:
        existing = connection.execute(text("SELECT count(*) FROM registry_licences")).scalar()
        list_id = connection.execute(text("SELECT min(id) FROM registry_status_lists")).scalar()
        type_version = connection.execute(
            text("SELECT version FROM catalog_licence_types WHERE code = :c AND is_current"), {"c": BUSINESS_LICENCE}
        ).scalar()
    missing, holders, serial = total - existing, 0, 10_000_000
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            columns = ("base_identifier, type_code, type_version, issuer_code, serial, holder_name, holder_code, "
                       "holder_code_type, status, current_version, valid_from, valid_until, status_list_id, "
                       "status_index, issued_at, updated_at")
            with cursor.copy(f"COPY registry_licences ({columns}) FROM STDIN") as copy:
                while missing > 0:
                    holders += 1
                    code, name = _company(1_000_000 + holders)
                    for _ in range(min(missing, rng.randint(1, 5))):
                        serial += 1
                        status = "valid" if rng.random() < 0.9 else rng.choice(("revoked", "expired", "suspended"))
                        base = f"1.2.156.3005.2.{BUSINESS_LICENCE}.{ISSUER}.{serial:08d}"
                        copy.write_row((base, BUSINESS_LICENCE, type_version, ISSUER, f"{serial:08d}", name, code,
                                        "001", status, 1, date(2021, 3, 18), None, list_id, serial,
                                        datetime(2021, 3, 18, tzinfo=UTC),
                                        datetime(2021, 3, 18, tzinfo=UTC)))
                        missing -= 1
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE registry_licences"))
    return holders


def _percentiles(timings: list[float]) -> dict:
    timings = sorted(timings)
    return {"p50_ms": round(statistics.median(timings), 3),
            "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 3),
            "max_ms": round(timings[-1], 3)}


def _lookup_latency(engine: Engine, *, holders: int, lookups: int, seed: int) -> dict:
    """The wallet's query for random holders, timed at the caller (a round
    trip and the ORM) and, for a sample, inside PostgreSQL (EXPLAIN ANALYZE)."""
    rng = random.Random(seed + 1)
    make = create_sessionmaker(engine)
    timings, server, found, cpu = [], [], 0, 0.0
    with make() as session:
        for i in range(lookups + 50):
            code, _name = _company(1_000_000 + rng.randint(1, holders))
            started, cpu_started = time.perf_counter(), time.process_time()
            entries = reads.wallet(session=session, holder_code=code, holder_code_type="001")
            elapsed, cpu_spent = time.perf_counter() - started, time.process_time() - cpu_started
            session.expunge_all()  # every lookup reads from the database, as a fresh request would
            if i >= 50:  # the first ones warm the connection and the statement cache
                timings.append(elapsed * 1000)
                found += len(entries)
                cpu += cpu_spent
            if i % 10 == 0:
                server.append(_server_time(session, code))
    return {"lookups": lookups, "licences_found": found, **_percentiles(timings),
            "client_cpu_ms_per_lookup": round(cpu * 1000 / lookups, 3),
            "server_execution": {"samples": len(server), **_percentiles(server)}}


def _server_time(session: Session, code: str) -> float:
    query, params = reads.wallet_query(holder_code=code, holder_code_type="001")
    compiled = query.compile(dialect=session.get_bind().dialect)
    plan = session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.construct_params(params)).scalar()
    return float(plan[0]["Execution Time"])


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench registry")
    parser.add_argument("--count", type=int, default=100_000, help="licences to issue (default 100k)")
    parser.add_argument("--lookup-rows", type=int, default=1_000_000, help="licences stored for the lookup")
    parser.add_argument("--lookups", type=int, default=5_000, help="holder lookups timed")
    parser.add_argument("--batch", type=int, default=1000, help="licences per unit of work (committed together)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database (a schema is made in it)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench runs")
    parser.add_argument("--seed", type=int, default=20251121)
    options = parser.parse_args(args)
    if options.quick:
        options.count, options.lookup_rows, options.lookups = 1_000, 20_000, 500
    if not options.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    if not 1 <= options.count <= options.lookup_rows:
        parser.error("--count must be between 1 and --lookup-rows")
    _reset_schema(options.database_url, create=True)
    engine = _engine(options.database_url)
    try:
        upgrade(engine)
        with create_sessionmaker(engine)() as session:
            _prepare(session)
        raw_rate = _raw_es256_rate(1.5)
        issuance = _issue_rate(engine, count=options.count, batch=options.batch)
        holders = _fill(engine, total=options.lookup_rows, seed=options.seed)
        lookup = _lookup_latency(engine, holders=holders, lookups=options.lookups, seed=options.seed)
    finally:
        engine.dispose()
        _reset_schema(options.database_url, create=False)
    return {
        "database": "postgresql",
        "issuance": {**issuance, "batch": options.batch,
                     "ratio_to_raw_es256": round(issuance["licences_per_s"] / raw_rate, 3)},
        "reference": {"raw_es256_sign_per_s": raw_rate,
                      "what": "cryptography ECDSA P-256 over the canonical record, one core, same run"},
        "holder_lookup": {**lookup, "licences_stored": options.lookup_rows, "holders": holders},
        "target": {"licences_per_s": 2000, "lookup_p99_ms": 5},
    }
