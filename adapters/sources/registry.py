"""The binding registry: catalog data items name a binding
(`adapter: {kind, name}`); the registry holds one source per binding (with
its own circuit breaker) and runs every fetch through the same pipeline:
validate the subject, ask the breaker, fetch, check types, log masked."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from adapters.errors import AdapterConfigError, AdapterError, BindingMismatch, CircuitOpen, SourceError, UnknownBinding
from adapters.sources.breaker import CircuitBreaker
from adapters.sources.config import BindingsDocument, ReturnTarget
from adapters.sources.http import HttpSource
from adapters.sources.records import Record, parse_fields, validate_records
from adapters.sources.sql import SqlSource
from adapters.sources.subjects import mask_subject, validate_subject
from catalog.service import data_items
from storage.egress import DIRECT, Egress

log = logging.getLogger("certhub.adapters")

_MAX_CONFIG_BYTES = 1024 * 1024


class Source(Protocol):
    """What every source kind offers: one subject in, raw records out."""

    kind: str
    name: str
    breaker: CircuitBreaker

    @property
    def field_keys(self) -> set[str]: ...

    def fetch_raw(self, subject: str) -> list[Record]: ...

    def close(self) -> None: ...


class ProviderObserver(Protocol):
    """Told of every call to a provider's system (the app counts them as
    metrics): the binding, how it ended (``ok`` or the error's code), how
    long it took and the binding's circuit state after it. Never the subject."""

    def call_finished(self, *, binding: str, outcome: str, seconds: float, circuit_state: str) -> None: ...


class BoundItem(Protocol):
    """What a fetch needs of a data item: the catalog row or a snapshot of it
    (read-only: a frozen snapshot satisfies it as well as the row)."""

    @property
    def code(self) -> str: ...
    @property
    def subject_kind(self) -> str: ...
    @property
    def fields(self) -> Sequence[dict]: ...
    @property
    def adapter_kind(self) -> str | None: ...
    @property
    def adapter_name(self) -> str | None: ...


class BindingRegistry:
    def __init__(self, document: BindingsDocument, *, environ: Mapping[str, str] | None = None,
                 egress: Egress = DIRECT) -> None:
        env = os.environ if environ is None else environ
        self.document = document
        self._sources: dict[tuple[str, str], Source] = {}
        for http_binding in document.http:
            self._sources["http", http_binding.name] = HttpSource(http_binding, environ=env, egress=egress)
        for sql_binding in document.sql:
            self._sources["sql", sql_binding.name] = SqlSource(sql_binding, environ=env)
        self._targets = {t.name: t for t in document.return_targets}
        self.environ = env
        # Parsed field specs by data item, reused while the caller passes the
        # same (unchanging) field list: a catalog snapshot keeps one for seconds.
        self._parsed_fields: dict[str, tuple[object, list]] = {}
        # Set by the app that serves with this registry (certhub.metrics.ProviderMetrics).
        self.observer: ProviderObserver | None = None

    @classmethod
    def from_mapping(cls, mapping: object, *, environ: Mapping[str, str] | None = None,
                     egress: Egress = DIRECT) -> BindingRegistry:
        try:
            return cls(BindingsDocument.model_validate(mapping), environ=environ, egress=egress)
        except ValidationError as exc:
            raise AdapterConfigError(_describe(exc)) from None

    @classmethod
    def from_yaml(cls, path: Path, *, environ: Mapping[str, str] | None = None,
                  egress: Egress = DIRECT) -> BindingRegistry:
        raw = Path(path).read_bytes()
        if len(raw) > _MAX_CONFIG_BYTES:
            raise AdapterConfigError(f"{path}: larger than {_MAX_CONFIG_BYTES} bytes")
        try:
            mapping = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise AdapterConfigError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_mapping(mapping, environ=environ, egress=egress)

    @property
    def data_bureau(self) -> str | None:
        return self.document.data_bureau

    def source(self, *, kind: str, name: str) -> Source:
        try:
            return self._sources[kind, name]
        except KeyError:
            raise UnknownBinding(f"no {kind} binding named {name!r}") from None

    def sql_source(self, name: str) -> SqlSource:
        source = self.source(kind="sql", name=name)
        if not isinstance(source, SqlSource):
            raise UnknownBinding(f"no sql binding named {name!r}")
        return source

    def target(self, name: str) -> ReturnTarget:
        try:
            return self._targets[name]
        except KeyError:
            raise UnknownBinding(f"no return target named {name!r}") from None

    def close(self) -> None:
        for source in self._sources.values():
            source.close()

    def fetch(self, *, data_item: BoundItem, subject: str) -> list[Record]:
        """The data item's records for the subject, typed per the catalog."""
        if data_item.adapter_kind is None or data_item.adapter_name is None:
            raise UnknownBinding(f"data item {data_item.code} has no adapter binding")
        subject = validate_subject(subject, subject_kind=data_item.subject_kind)
        source = self.source(kind=data_item.adapter_kind, name=data_item.adapter_name)
        fields = self._fields_of(data_item)
        _check_mapping(source, {f.key for f in fields}, data_item.code)
        if self.observer is None:
            return _run(source, subject=subject, fields=fields)
        return _observed_run(source, subject=subject, fields=fields, observer=self.observer)

    def _fields_of(self, data_item: BoundItem) -> list:
        known = self._parsed_fields.get(data_item.code)
        if known is not None and known[0] is data_item.fields:
            return known[1]
        fields = parse_fields(list(data_item.fields))
        if isinstance(data_item.fields, tuple):  # immutable: safe to reuse while it is the same object
            if len(self._parsed_fields) > 1024:
                self._parsed_fields.clear()
            self._parsed_fields[data_item.code] = (data_item.fields, fields)
        return fields


def fetch_records(*, session: Session, registry: BindingRegistry, data_item_code: str, subject: str) -> list[Record]:
    """Fetch data item `data_item_code` for `subject` through its binding."""
    item = data_items.get_or_raise(session=session, code=data_item_code)
    return registry.fetch(data_item=item, subject=subject)


def _check_mapping(source: Source, field_keys: set[str], item_code: str) -> None:
    if source.field_keys != field_keys:
        extra = sorted(source.field_keys - field_keys)
        missing = sorted(field_keys - source.field_keys)
        raise BindingMismatch(
            f"binding {source.name} does not map data item {item_code}'s fields "
            f"(unknown: {extra or 'none'}, unmapped: {missing or 'none'})"
        )


def _observed_run(source: Source, *, subject: str, fields, observer: ProviderObserver) -> list[Record]:
    started, outcome = time.perf_counter(), "ok"
    try:
        return _run(source, subject=subject, fields=fields)
    except AdapterError as error:
        outcome = error.code
        raise
    finally:
        observer.call_finished(binding=source.name, outcome=outcome, seconds=time.perf_counter() - started,
                               circuit_state=str(source.breaker.state))


def _run(source: Source, *, subject: str, fields) -> list[Record]:
    masked = mask_subject(subject)
    try:
        source.breaker.before_call()
    except CircuitOpen:
        log.warning("adapter fetch refused: binding=%s subject=%s error=circuit_open", source.name, masked)
        raise
    try:
        raw = source.fetch_raw(subject)
        records = validate_records(raw, fields=fields, binding=source.name)
    except SourceError as exc:
        if exc.counts_against_provider:
            source.breaker.record_failure()
        else:
            source.breaker.record_neutral()
        log.warning("adapter fetch failed: binding=%s subject=%s error=%s", source.name, masked, exc.code)
        raise
    except AdapterError:
        source.breaker.record_neutral()
        raise
    except Exception as exc:
        # Never an unhandled crash at the boundary; the library's message may
        # carry the subject (in a URL), so only its type is kept.
        source.breaker.record_neutral()
        log.error("adapter fetch error: binding=%s subject=%s type=%s", source.name, masked, type(exc).__name__)
        raise SourceError(f"unexpected failure ({type(exc).__name__})", binding=source.name) from None
    source.breaker.record_success()
    log.info("adapter fetch: binding=%s subject=%s records=%d", source.name, masked, len(records))
    return records


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:20]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg')}")
    return "invalid bindings: " + "; ".join(problems)
