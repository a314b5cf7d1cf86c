"""Federation: keep the last good copy of other registries' published
documents (trust lists, status lists) and serve it while it is young enough.

Why a grace period and then refusal: an offline verifier that keeps trusting
a stale trust list would accept licences the other registry has since
revoked (the stale-trust-list failure known from the EU DCC); past the grace
period, failing closed is the safe answer. Signatures are checked by the
`validate` callable the composition layer supplies per source.

Documents are fetched through `adapters.http_client` (urllib3,
bounded in size and time, no redirects followed, through the deployment's
egress proxy as the client was built).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from adapters.errors import AdapterConfigError, AdapterError, DocumentRejected, FederationFetchFailed, StaleSource
from adapters.http_client import HttpClient, bounded_get
from adapters.models import FederatedDocument
from storage.base import utcnow

log = logging.getLogger("certhub.adapters.federation")


@dataclass(frozen=True)
class FederationSource:
    name: str
    url: str
    refresh_interval: timedelta = timedelta(hours=1)
    grace_period: timedelta = timedelta(hours=24)
    validate: Callable[[bytes], None] | None = None
    max_bytes: int = 4 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    deadline: float = 30.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")) or not (0 < len(self.name) <= 100):
            raise AdapterConfigError(f"federation source {self.name!r}: needs a name and an http(s) URL")
        if self.grace_period < self.refresh_interval:
            raise AdapterConfigError(f"federation source {self.name}: grace period shorter than the refresh interval")


@dataclass(frozen=True)
class FederatedCopy:
    source: str
    body: bytes
    sha256: str
    etag: str | None
    content_type: str | None
    fetched_at: datetime
    age: timedelta


@dataclass(frozen=True)
class SourceStatus:
    source: str
    url: str
    fetched_at: datetime | None
    checked_at: datetime | None
    age_seconds: float | None
    servable: bool
    last_error: str | None


UPDATED, NOT_MODIFIED, FAILED = "updated", "not_modified", "failed"


class Federation:
    def __init__(self, sources: Iterable[FederationSource], *, client: HttpClient) -> None:
        """`client` carries the TLS configuration (its ssl_context) and the
        kept-alive connections; whoever builds the Federation owns and closes it."""
        self._sources = {s.name: s for s in sources}
        self._client = client

    def source(self, name: str) -> FederationSource:
        try:
            return self._sources[name]
        except KeyError:
            raise AdapterConfigError(f"no federation source named {name!r}") from None

    def get(self, *, session: Session, name: str, now: datetime) -> FederatedCopy:
        """The last good copy, or StaleSource once it is past the grace period."""
        source = self.source(name)
        row = _row(session=session, name=name)
        if row is None or row.body is None or row.fetched_at is None:
            raise StaleSource(f"federation source {name}: no good copy fetched yet")
        age = now - row.fetched_at
        if age > source.grace_period:
            raise StaleSource(f"federation source {name}: last good copy is {int(age.total_seconds())} s old, past the grace period")
        return FederatedCopy(name, row.body, row.sha256 or "", row.etag, row.content_type, row.fetched_at, age)

    def refresh(self, *, session: Session, name: str, now: datetime) -> str:
        """Fetch one source now; a failed or invalid fetch keeps the previous copy."""
        source = self.source(name)
        row = _row(session=session, name=name, lock=True) or _new_row(session=session, source=source)
        row.checked_at = now
        try:
            outcome = self._fetch_into(row, source, now=now)
        except AdapterError as exc:
            row.last_error = f"{exc.code}: {exc}"[:500]
            log.warning("federation refresh failed: source=%s error=%s", name, exc.code)
            outcome = FAILED
        session.flush()
        return outcome

    def refresh_due(self, *, session: Session, now: datetime) -> dict[str, str]:
        """Refresh every source whose last check is older than its interval."""
        outcomes = {}
        for name, source in self._sources.items():
            row = _row(session=session, name=name)
            if row is None or row.checked_at is None or now - row.checked_at >= source.refresh_interval:
                outcomes[name] = self.refresh(session=session, name=name, now=now)
        return outcomes

    def report(self, *, session: Session, now: datetime) -> list[SourceStatus]:
        statuses = []
        for name, source in self._sources.items():
            row = _row(session=session, name=name)
            fetched_at = row.fetched_at if row is not None else None
            age = (now - fetched_at).total_seconds() if fetched_at is not None else None
            statuses.append(
                SourceStatus(
                    source=name,
                    url=source.url,
                    fetched_at=fetched_at,
                    checked_at=row.checked_at if row is not None else None,
                    age_seconds=age,
                    servable=age is not None and age <= source.grace_period.total_seconds(),
                    last_error=row.last_error if row is not None else None,
                )
            )
        return statuses

    def _fetch_into(self, row: FederatedDocument, source: FederationSource, *, now: datetime) -> str:
        headers = {}
        if row.etag and row.body is not None:
            headers["If-None-Match"] = row.etag
        response = bounded_get(
            self._client,
            source.url,
            headers=headers,
            connect_timeout=source.connect_timeout,
            read_timeout=source.read_timeout,
            deadline_at=time.monotonic() + source.deadline,
            max_bytes=source.max_bytes,
            binding=f"federation source {source.name}",
        )
        if response.status_code == 304 and row.body is not None:
            # SPEC: RFC 9110 §15.4.5 — 304: the stored copy is still current.
            row.fetched_at, row.last_error = now, None
            return NOT_MODIFIED
        if response.status_code != 200:
            raise FederationFetchFailed(f"the source answered HTTP {response.status_code}")
        _validated(source, response.body)
        row.body = response.body
        row.sha256 = hashlib.sha256(response.body).hexdigest()
        row.etag = response.headers.get("etag")
        row.content_type = response.headers.get("content-type")
        row.fetched_at, row.last_error, row.url = now, None, source.url
        return UPDATED


def _validated(source: FederationSource, body: bytes) -> None:
    if source.validate is None:
        return
    try:
        source.validate(body)
    except Exception as exc:  # the validator is supplied from outside: any failure means "not valid"
        raise DocumentRejected(f"document failed validation ({type(exc).__name__}: {str(exc)[:200]})") from None


def _row(*, session: Session, name: str, lock: bool = False) -> FederatedDocument | None:
    query = select(FederatedDocument).where(FederatedDocument.source == name)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _new_row(*, session: Session, source: FederationSource) -> FederatedDocument:
    row = FederatedDocument(source=source.name, url=source.url)
    session.add(row)
    session.flush()
    return row


def run_schedule(
    federation: Federation, *, sessions: sessionmaker[Session], stop: threading.Event, tick_seconds: float = 30.0
) -> None:
    """Refresh due sources until `stop` is set; each pass is one unit of work."""
    while not stop.is_set():
        with sessions() as session:
            federation.refresh_due(session=session, now=utcnow())
            session.commit()
        stop.wait(tick_seconds)
