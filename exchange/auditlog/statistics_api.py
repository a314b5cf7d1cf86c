"""The public usage statistics (no sign-in): JSON for anyone, the page
``/statistics`` draws it. Anonymised and with small counts suppressed
(``exchange.auditlog.usage_statistics``), so caches may keep it.

A computed answer is kept in the app's cache (Redis across processes) for
``CACHE_SECONDS``, so a public route cannot be made to scan the log on
every request; browsers and proxies may keep it as long (SPEC: RFC 9111
§5.2.2.9 public, §5.2.2.1 max-age) and revalidate it by its ETag (RFC 9110
§8.8.3).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from exchange.auditlog.search import SHANGHAI
from exchange.auditlog.usage_statistics import DayRange, usage_statistics
from storage.cache import Cache
from storage.sessions import SessionDep
from wiring import find_service

router = APIRouter(prefix="/api/v1/public", tags=["authorized-use log"])

CACHE_SECONDS = 300
DEFAULT_DAYS = 30
_CACHE_KEY = "usage-statistics:v1:{first}:{last}"


@router.get("/usage-statistics")
def public_usage_statistics(
    request: Request,
    session: SessionDep,
    first_day: Annotated[
        date | None, Query(description="first day (China Standard Time); default: 30 days back")
    ] = None,
    last_day: Annotated[date | None, Query(description="last day, inclusive; default: today")] = None,
) -> Response:
    """Uses per department pair (user → provider), per matter, refusals per
    reason and per day, granted and denied; counts 1–4 published as "<5"."""
    last = last_day or datetime.now(SHANGHAI).date()
    days = DayRange(first=first_day, last=last) if first_day else DayRange.ending(last, days=DEFAULT_DAYS)
    cache: Cache = find_service(request, Cache)  # type: ignore[type-abstract]  # registered under the protocol
    key = _CACHE_KEY.format(first=days.first.isoformat(), last=days.last.isoformat())
    body = cache.get(key)
    if body is None:
        body = json.dumps(usage_statistics(session=session, days=days), ensure_ascii=False, separators=(",", ":"))
        cache.set_if_absent(key, body, ttl_seconds=CACHE_SECONDS)
    etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={CACHE_SECONDS}", "ETag": etag}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)
