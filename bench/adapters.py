"""Licence aggregation (归集) rate: a generated CSV of business-licence
records through the whole path — streaming reader, mapping file, the
registry's importer (validate, number, seal, store, journal) — into
PostgreSQL, in a throwaway schema dropped afterwards.

Printed beside it, measured in the same run on the same file and record
shape: the rate of reading + mapping alone (no registry), and the raw ES256
signing rate of the sealed record (the least work sealing can cost). Then a
rerun of the same file (every record unchanged: nothing issued) and the
process's peak RSS.

usage: python -m bench adapters [--rows N] [--quick] [--batch-size B] [--database-url URL]
  (default URL: $CERTHUB_BENCH_DATABASE_URL, $CERTHUB_TEST_DATABASE_URL, or postgresql://postgres@127.0.0.1:5432/test)
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from adapters.imports import ErrorReport, RowMapper, csv_source
from adapters.imports.mapping import parse_mapping
from catalog.service import document, licence_types
from certhub.cli.imports_cmd import ImportJob, run_job
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.settings import Settings
from identity.codes import uscc_check_character
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from signing.algorithms import Algorithm
from signing.canonical import canonical_json
from signing.keys import generate_private_key

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "bench-adapters-secret-" + "z" * 32
REGISTRY_ID = "https://registry.bench.test"


def _uscc(first17: str) -> str:
    return first17 + uscc_check_character(first17)


def _catalog() -> tuple[dict, str, str]:
    issuer, definer = _uscc("11350100MB0000002"), _uscc("11100000MB0000004")
    type_code = definer + "001"
    catalog = {
        "version": 1,
        "departments": [
            {"code": _uscc("11350000MB0000001"), "name": "福建省市场监督管理局", "region": "350000", "level": "province"},
            {"code": issuer, "name": "福州市市场监督管理局", "region": "350100", "level": "city",
             "parent": _uscc("11350000MB0000001")},
        ],
        "licence_types": [{
            "code": type_code, "name": "营业执照", "holder_kind": "organisation", "issuers": [issuer],
            "fields": [
                {"key": "uscc", "label": "统一社会信用代码", "type": "string", "required": True, "max_length": 18},
                {"key": "name", "label": "名称", "type": "string", "required": True, "max_length": 100},
                {"key": "legal_rep", "label": "法定代表人", "type": "string", "sensitive": True, "mask": "name"},
                {"key": "kind", "label": "类型", "type": "enum", "options": ["有限责任公司", "个体工商户"]},
                {"key": "founded", "label": "成立日期", "type": "date"},
                {"key": "capital", "label": "注册资本(万元)", "type": "number"},
                {"key": "address", "label": "住所", "type": "string", "max_length": 200},
            ],
            "validity": {"kind": "permanent"},
        }],
        "data_items": [],
        "matters": [],
    }
    return catalog, issuer, type_code


MAPPING = {
    "version": 1,
    "source": {"system": "bench-samr-legacy", "key": "注册号"},
    "holder": {"name": "企业名称", "code": {"column": "统一社会信用代码", "transforms": ["strip", "upper"]},
               "code_type": {"value": "001"}},
    "face": {
        "uscc": {"column": "统一社会信用代码", "transforms": ["strip", "upper"]}, "name": "企业名称",
        "legal_rep": "法定代表人", "kind": {"column": "企业类型", "map": {"1": "有限责任公司", "2": "个体工商户"}},
        "founded": {"column": "成立日期", "date_format": "%Y%m%d"}, "capital": "注册资本", "address": "住所",
    },
}
COLUMNS = ["注册号", "企业名称", "统一社会信用代码", "法定代表人", "企业类型", "成立日期", "注册资本", "住所"]


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(1, rows + 1):
            first17 = f"91350100MA{n:07d}"[:17]
            writer.writerow([
                f"3501{n:011d}", f"福州示例{n}科技有限公司", _uscc(first17), "张三丰", "1" if n % 5 else "2",
                f"20{10 + n % 15:02d}{n % 12 + 1:02d}{n % 28 + 1:02d}", str(100 + n % 900),
                f"福建省福州市鼓楼区五四路{n % 300 + 1}号",
            ])


def _prepare(url: str, catalog: dict, issuer: str, type_code: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        with create_sessionmaker(engine)() as session, session.begin():
            document.load(session=session, document=document.parse_mapping(catalog))
            ensure_signing_anchors(session=session, key_secret=SECRET.encode(), maker_name="福建省电子印章制作中心")
            signing_service.create_seal(
                session=session, owner_department_code=issuer, department_name="福州市市场监督管理局", seal_type="电子证照专用章",
                licence_type_codes=[type_code], valid_from=datetime(2025, 1, 1, tzinfo=UTC),
                valid_to=datetime(2035, 1, 1, tzinfo=UTC), key_secret=SECRET.encode(),
            )
    finally:
        engine.dispose()


def _read_and_map_rate(url: str, path: Path, type_code: str) -> float:
    """Reference: the adapters' share alone — read and map every row, no registry."""
    engine = create_db_engine(url)
    try:
        with create_sessionmaker(engine)() as session:
            licence_type = licence_types.get_or_raise(session=session, code=type_code)
        mapping = parse_mapping(MAPPING)
        source = csv_source(path)
        started = time.perf_counter()
        with source.open() as opened:
            mapper = RowMapper(mapping, licence_type=licence_type, columns=opened.columns)
            mapped = sum(1 for row in opened.rows if not isinstance(mapper.map(row), list))
        return mapped / (time.perf_counter() - started)
    finally:
        engine.dispose()


def _raw_sign_rate(seconds: float = 1.0) -> float:
    """Reference: ES256 over the canonical bytes of a sealed record of this shape."""
    key = generate_private_key(Algorithm.ES256)
    record = {"licence_name": "营业执照", "identifier": "1.2.156.3005.2." + "x" * 60, "holder_name": "福州示例1科技有限公司",
              "face": {"uscc": "91350100MA0000001X", "name": "福州示例1科技有限公司", "legal_rep": "张三丰",
                       "kind": "有限责任公司", "founded": "2011-02-02", "capital": 101, "address": "福建省福州市鼓楼区五四路2号"}}
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(50):
            key.sign(canonical_json(record))
        count += 50
    return count / (time.perf_counter() - started)


def _import(config: Settings, path: Path, issuer: str, type_code: str, batch_size: int):
    job = ImportJob(source=lambda: csv_source(path), mapping=parse_mapping(MAPPING), type_code=type_code,
                    issuer=issuer, system="bench-samr-legacy", operator="bench", batch_size=batch_size)
    started = time.perf_counter()
    with ErrorReport(None) as report:
        summary = run_job(config, job, report=report)
    return summary, time.perf_counter() - started


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench adapters")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 rows: a fast check that it runs")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--database-url", default=os.environ.get("CERTHUB_BENCH_DATABASE_URL")
                        or os.environ.get("CERTHUB_TEST_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--no-rerun", action="store_true", help="skip the idempotent rerun")
    options = parser.parse_args(args)
    rows = 5_000 if options.quick else options.rows
    if not options.database_url.startswith("postgresql"):
        parser.error("the benchmark measures PostgreSQL: give a postgresql:// URL")
    catalog, issuer, type_code = _catalog()
    schema = f"bench_adapters_{secrets.token_hex(4)}"
    admin = create_db_engine(options.database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in options.database_url else "?"
    url = f"{options.database_url}{separator}options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-adapters-") as directory:
            path = Path(directory) / "legacy.csv"
            _write_csv(path, rows)
            _prepare(url, catalog, issuer, type_code)
            config = Settings(database_url=url, secret_key=SECRET, registry_id=REGISTRY_ID, data_dir=Path(directory))
            summary, seconds = _import(config, path, issuer, type_code, options.batch_size)
            figures = {
                "rows": rows,
                "batch_size": options.batch_size,
                "csv_mb": round(path.stat().st_size / 1e6, 1),
                "issued": summary.issued,
                "failed": summary.failed,
                "seconds": round(seconds, 1),
                "aggregation_rows_per_s": round(rows / seconds),
                "peak_rss_mb_after_import": round(_peak_rss_mb()),
            }
            if not options.no_rerun:
                rerun, rerun_seconds = _import(config, path, issuer, type_code, options.batch_size)
                figures["rerun_unchanged"] = rerun.unchanged
                figures["rerun_issued"] = rerun.issued
                figures["rerun_rows_per_s"] = round(rows / rerun_seconds)
            figures["reference"] = {
                "read_and_map_rows_per_s": round(_read_and_map_rate(url, path, type_code)),
                "raw_es256_sign_canonical_record_per_s": round(_raw_sign_rate()),
                "cpu_count": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 1),
            }
            figures["peak_rss_mb"] = round(_peak_rss_mb())
            figures["target"] = ">= 2,000 rows/s into PostgreSQL, peak memory < 300 MB"
            return figures
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
