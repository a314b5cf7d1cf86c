"""A hash binding each answer to its request, as X-Road's request hash does.

The hash is SHA-256 over the RFC 8785 canonical JSON of the request as the
hub understood it: a fresh request id and time, the calling department,
client and operator, and the body (subject(s), items, matter, purpose, case
number). The answer carries the hash (header ``X-Request-Hash`` and body)
together with the request id and time, so the consumer can recompute it
from what it sent; every log record of the request carries the same hash.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from signing.canonical import canonical_json

HEADER = "X-Request-Hash"


@dataclass(frozen=True)
class RequestEnvelope:
    request_id: str
    time: str
    document: dict
    digest: str


def _format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(*, department_code: str, client_id: str, operator: str, body: dict, now: datetime,
             request_id: str | None = None) -> RequestEnvelope:
    request_id = request_id or uuid.uuid4().hex
    time = _format_time(now)
    document: dict[str, object] = {
        "request_id": request_id,
        "time": time,
        "department": department_code,
        "client_id": client_id,
        "operator": operator,
        "body": body,
    }
    return RequestEnvelope(request_id=request_id, time=time, document=document,
                           digest=request_hash(document))


def request_hash(document: dict) -> str:
    """Lowercase hex SHA-256 of the canonical JSON. # SPEC: RFC 8785, FIPS 180-4"""
    return hashlib.sha256(canonical_json(document)).hexdigest()
