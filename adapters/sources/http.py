"""HTTP/JSON source: GET a department's API for one subject and map the JSON
answer onto the catalog data item's fields. The GET goes through
`adapters.http_client` (urllib3, bounded in size and time, through
the deployment's egress proxy)."""

from __future__ import annotations

import json
import random
import ssl
import time
from collections.abc import Mapping
from urllib.parse import quote

from adapters.errors import (
    AdapterConfigError,
    MalformedResponse,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
    SourceError,
)
from adapters.http_client import HttpClient, bounded_get
from adapters.sources.breaker import CircuitBreaker
from adapters.sources.config import HttpBinding
from adapters.sources.paths import MISSING, compile_path, resolve
from adapters.sources.records import Record
from storage.egress import DIRECT, Egress


class HttpSource:
    kind = "http"

    def __init__(self, binding: HttpBinding, *, environ: Mapping[str, str], egress: Egress = DIRECT) -> None:
        self.name = binding.name
        self.binding = binding
        self.breaker = CircuitBreaker(
            name=binding.name,
            failure_threshold=binding.circuit.failure_threshold,
            cooldown_seconds=binding.circuit.cooldown,
        )
        self._environ = environ
        self._records_path = compile_path(binding.records)
        self._field_paths = {key: compile_path(expr) for key, expr in binding.fields.items()}
        # One client per binding, shared by every request thread: its
        # connections stay open between queries. It follows no redirects (one
        # could carry the subject to another host) and reads no proxy
        # settings from the environment: `egress` is the proxy, if any.
        self._client = HttpClient(ssl_context=self._tls_context(), egress=egress)

    @property
    def field_keys(self) -> set[str]:
        return set(self.binding.fields)

    def close(self) -> None:
        self._client.close()

    def fetch_raw(self, subject: str) -> list[Record]:
        body = self._get_with_retries(self._url_for(subject))
        if body is None:
            return []
        return self._map(body)

    def _url_for(self, subject: str) -> str:
        return self.binding.url.replace("{subject}", quote(subject, safe=""))

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        auth = self.binding.auth
        if auth is not None:
            secret = self._environ.get(auth.env)
            if not secret:
                raise AdapterConfigError(f"http binding {self.name}: environment variable {auth.env} is not set")
            headers[auth.header] = f"{auth.scheme} {secret}" if auth.scheme else secret
        return headers

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.binding.ca_bundle) if self.binding.ca_bundle else None)
        if self.binding.client_cert is not None:
            try:
                context.load_cert_chain(str(self.binding.client_cert.cert), str(self.binding.client_cert.key))
            except (OSError, ssl.SSLError) as exc:
                raise AdapterConfigError(f"http binding {self.name}: cannot load the client certificate ({exc})") from None
        return context

    def _get_with_retries(self, url: str) -> bytes | None:
        """The body of a 2xx answer, or None for a not-found status.

        Only GETs are sent, so retrying is safe; only outages are retried
        (connection errors, timeouts, 5xx), with exponential backoff and full
        jitter, never past the overall deadline."""
        timeouts, retries = self.binding.timeouts, self.binding.retries
        deadline_at = time.monotonic() + timeouts.deadline
        headers = self._headers()
        last_error: SourceError = ProviderTimeout("deadline passed", binding=self.name)
        for attempt in range(retries.attempts):
            try:
                response = bounded_get(
                    self._client,
                    url,
                    headers=headers,
                    connect_timeout=timeouts.connect,
                    read_timeout=timeouts.read,
                    deadline_at=deadline_at,
                    max_bytes=self.binding.max_response_bytes,
                    binding=self.name,
                )
            except (ProviderUnavailable, ProviderTimeout) as exc:
                last_error = exc
            else:
                status = response.status_code
                if status in self.binding.not_found_statuses:
                    return None
                if 200 <= status < 300:
                    return response.body
                if status < 500:
                    raise ProviderRejected(f"the provider answered HTTP {status}", binding=self.name)
                last_error = ProviderUnavailable(f"the provider answered HTTP {status}", binding=self.name)
            delay = random.uniform(0, min(retries.max_backoff, retries.backoff * 2**attempt))
            if attempt + 1 == retries.attempts or time.monotonic() + delay >= deadline_at:
                break
            time.sleep(delay)
        raise last_error

    def _map(self, body: bytes) -> list[Record]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedResponse("the response is not valid JSON", binding=self.name) from None
        found = resolve(document, self._records_path)
        if found is MISSING:
            raise MalformedResponse(f"no records at {self.binding.records!r}", binding=self.name)
        if found is None:
            return []
        records = found if isinstance(found, list) else [found]
        if len(records) > self.binding.max_records:
            raise ResponseTooLarge(f"more than {self.binding.max_records} records", binding=self.name)
        objects = [r for r in records if isinstance(r, dict)]
        if len(objects) != len(records):
            raise MalformedResponse("records must be JSON objects", binding=self.name)
        return [self._fields_of(record) for record in objects]

    def _fields_of(self, record: dict) -> Record:
        mapped: Record = {}
        for key, path in self._field_paths.items():
            value = resolve(record, path)
            mapped[key] = None if value is MISSING else value
        return mapped
