"""A city's slice of a provider's dataset, and what changed since the last
delivery: rows newer than the watermark (an updated_at column), or, without
one, rows whose content hash differs from what was last sent."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from adapters.errors import ResponseTooLarge
from adapters.models import ReturnRowHash
from adapters.sources.config import SqlDataset
from adapters.sources.sql import SqlSource
from catalog.codes import region_contains, region_level

Row = dict[str, object]
_REGION_PREFIX = {"province": 2, "city": 4, "county": 6}


@dataclass(frozen=True)
class Changes:
    rows: list[Row]
    watermark: dict | None


def read_slice(*, source: SqlSource, dataset: SqlDataset, region: str, watermark: dict | None) -> tuple[list[Row], list]:
    """Rows of the dataset inside `region` (and newer than the watermark), plus
    each row's updated_at value (or None)."""
    needed = list(dict.fromkeys([*dataset.columns, dataset.region_column, *_opt(dataset.updated_at_column)]))
    schema, _, name = dataset.table.rpartition(".")
    source_table = table(name, *(column(c) for c in needed), schema=schema or None)
    prefix = region[: _REGION_PREFIX[region_level(region)]]
    # Identifiers are quoted by SQLAlchemy and values bound: nothing is spliced into SQL.
    query = select(*(source_table.c[c] for c in needed)).where(source_table.c[dataset.region_column].like(prefix + "%"))
    if dataset.updated_at_column and watermark is not None:
        query = query.where(source_table.c[dataset.updated_at_column] > decode_watermark(watermark))
    order = dataset.key_column or dataset.updated_at_column
    assert order is not None  # SqlDataset refuses a dataset with neither
    query = query.order_by(source_table.c[order]).limit(dataset.max_rows + 1)
    with source.read_only(timeout=source.binding.statement_timeout) as connection:
        fetched = [dict(r) for r in connection.execute(query).mappings()]
    if len(fetched) > dataset.max_rows:
        raise ResponseTooLarge(f"the slice exceeds {dataset.max_rows} rows", binding=source.name)
    # The SQL prefix narrows the scan; region_contains is the rule itself.
    inside = [r for r in fetched if isinstance(r[dataset.region_column], str) and region_contains(region, r[dataset.region_column])]
    stamps = [r.get(dataset.updated_at_column) if dataset.updated_at_column else None for r in inside]
    return [{c: r[c] for c in dataset.columns} for r in inside], stamps


def changes_since(
    *, session: Session, ticket_id: int, source: SqlSource, dataset: SqlDataset, region: str, watermark: dict | None
) -> Changes:
    rows, stamps = read_slice(source=source, dataset=dataset, region=region, watermark=watermark)
    if dataset.updated_at_column:
        newest = max((s for s in stamps if s is not None), default=None)
        return Changes(rows, encode_watermark(newest) if newest is not None else watermark)
    assert dataset.key_column is not None  # SqlDataset refuses a dataset with neither
    return Changes(_hash_diff(session=session, ticket_id=ticket_id, rows=rows, key_column=dataset.key_column), None)


def _hash_diff(*, session: Session, ticket_id: int, rows: list[Row], key_column: str) -> list[Row]:
    known = {
        h.row_key: h
        for h in session.scalars(select(ReturnRowHash).where(ReturnRowHash.ticket_id == ticket_id))
    }
    changed = []
    for row in rows:
        key = str(row[key_column])[:200]
        digest = hashlib.sha256(canonical_line(row)).hexdigest()
        previous = known.get(key)
        if previous is None:
            session.add(ReturnRowHash(ticket_id=ticket_id, row_key=key, row_hash=digest))
        elif previous.row_hash != digest:
            previous.row_hash = digest
        else:
            continue
        changed.append(row)
    return changed


def json_safe(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: money and measures keep their digits
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def canonical_line(row: Row) -> bytes:
    safe = {k: json_safe(v) for k, v in row.items()}
    return json.dumps(safe, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def encode_watermark(value: object) -> dict:
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, int | float | Decimal):
        return {"type": "number", "value": str(value)}
    return {"type": "string", "value": str(value)}


def decode_watermark(watermark: dict) -> object:
    kind, value = watermark["type"], watermark["value"]
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "number":
        return Decimal(value)
    return value


def _opt(value: str | None) -> list[str]:
    return [value] if value else []
