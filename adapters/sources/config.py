"""The bindings file: how each catalog data item's `adapter` binding name
reaches a department's system, plus the data-return datasets and targets.

Secrets never live in the file: HTTP credentials and database URLs with
passwords are named by environment variable. The format is documented in
docs/adapters.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from identity.codes import validate_uscc
from identity.errors import InvalidCode

BindingName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
QualifiedName = Annotated[str, Field(pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")]
FieldKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Seconds = Annotated[float, Field(gt=0, le=300)]

_SELECT_RE = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpAuth(_Strict):
    header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = "Authorization"
    scheme: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,32}$")] | None = "Bearer"
    env: EnvName


class ClientCertificate(_Strict):
    cert: Path
    key: Path


class Timeouts(_Strict):
    connect: Seconds = 3.0
    read: Seconds = 10.0
    deadline: Seconds = 15.0


class Retries(_Strict):
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff: Annotated[float, Field(ge=0, le=60)] = 0.2
    max_backoff: Annotated[float, Field(ge=0, le=300)] = 5.0


class Circuit(_Strict):
    failure_threshold: Annotated[int, Field(ge=1, le=1000)] = 5
    cooldown: Seconds = 30.0


class HttpBinding(_Strict):
    name: BindingName
    url: Annotated[str, Field(max_length=2000)]
    auth: HttpAuth | None = None
    client_cert: ClientCertificate | None = None
    ca_bundle: Path | None = None
    timeouts: Timeouts = Timeouts()
    retries: Retries = Retries()
    circuit: Circuit = Circuit()
    max_response_bytes: Annotated[int, Field(ge=1, le=64 * 1024 * 1024)] = 1024 * 1024
    max_records: Annotated[int, Field(ge=1, le=10_000)] = 100
    records: Annotated[str, Field(max_length=500)] = ""
    fields: dict[FieldKey, Annotated[str, Field(max_length=500)]] = Field(min_length=1)
    not_found_statuses: list[Annotated[int, Field(ge=400, le=499)]] = [404]

    @field_validator("url")
    @classmethod
    def _url_template(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must be http:// or https://")
        if value.count("{subject}") != 1:
            raise ValueError("url must contain {subject} exactly once")
        return value


class SqlDataset(_Strict):
    """A whole table sliced by region for data return (数据回流)."""

    table: QualifiedName
    region_column: Identifier
    columns: list[Identifier] = Field(min_length=1, max_length=500)
    key_column: Identifier | None = None
    updated_at_column: Identifier | None = None
    max_rows: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000

    @model_validator(mode="after")
    def _change_detection(self) -> SqlDataset:
        if self.key_column is None and self.updated_at_column is None:
            raise ValueError("a dataset needs updated_at_column or key_column to send only changes")
        if self.key_column is not None and self.key_column not in self.columns:
            raise ValueError("key_column must be one of the delivered columns")
        return self


def _url_or_env(url: str | None, url_env: str | None, *, where: str) -> None:
    if (url is None) == (url_env is None):
        raise ValueError(f"{where}: give exactly one of url and url_env")
    if url is not None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError(f"{where}: not a SQLAlchemy URL") from None
        if parsed.password is not None:
            raise ValueError(f"{where}: a password in the file; put the URL in an environment variable (url_env)")


class SqlBinding(_Strict):
    name: BindingName
    url: str | None = None
    url_env: EnvName | None = None
    query: Annotated[str, Field(max_length=20_000)] | None = None
    fields: dict[FieldKey, Identifier] = Field(default_factory=dict)
    max_rows: Annotated[int, Field(ge=1, le=10_000)] = 100
    statement_timeout: Seconds = 5.0
    connect_timeout: Annotated[int, Field(ge=1, le=300)] = 5
    deadline: Seconds = 15.0  # client-side: connecting, querying and reading one subject's rows, all told
    circuit: Circuit = Circuit()
    dataset: SqlDataset | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SqlBinding:
        _url_or_env(self.url, self.url_env, where=f"sql binding {self.name}")
        if self.query is None and self.dataset is None:
            raise ValueError(f"sql binding {self.name}: needs a query, a dataset, or both")
        if self.query is not None:
            _check_query(self.query, where=f"sql binding {self.name}")
            if not self.fields:
                raise ValueError(f"sql binding {self.name}: a query needs a fields mapping")
        return self


def _check_query(query: str, *, where: str) -> None:
    """One read-only statement whose only parameter is the bound :subject —
    the subject is never spliced into SQL text."""
    if not _SELECT_RE.match(query):
        raise ValueError(f"{where}: the query must be a SELECT (or WITH ... SELECT)")
    if ";" in query.strip().rstrip(";"):
        raise ValueError(f"{where}: the query must be a single statement")
    parameters = set(text(query).compile().params)
    if parameters != {"subject"}:
        raise ValueError(f"{where}: the query must use the bound parameter :subject and no other (found {sorted(parameters)})")


def _uscc(value: str, *, what: str) -> str:
    try:
        return validate_uscc(value, what=what)
    except InvalidCode as exc:
        raise ValueError(str(exc)) from None


class ReturnTarget(_Strict):
    """Where a city's data-return slices are written; owned by one department."""

    name: BindingName
    department: str
    kind: Literal["sql", "csv", "jsonl"]
    url: str | None = None
    url_env: EnvName | None = None
    table: QualifiedName | None = None
    directory: Path | None = None

    @field_validator("department")
    @classmethod
    def _department(cls, value: str) -> str:
        return _uscc(value, what="department")

    @model_validator(mode="after")
    def _consistent(self) -> ReturnTarget:
        where = f"return target {self.name}"
        if self.kind == "sql":
            _url_or_env(self.url, self.url_env, where=where)
            if self.table is None or self.directory is not None:
                raise ValueError(f"{where}: an sql target needs a table and no directory")
        elif self.directory is None or any(v is not None for v in (self.url, self.url_env, self.table)):
            raise ValueError(f"{where}: a {self.kind} target needs a directory only")
        return self


class BindingsDocument(_Strict):
    version: Literal[1] = 1
    data_bureau: str | None = None
    http: list[HttpBinding] = Field(default_factory=list)
    sql: list[SqlBinding] = Field(default_factory=list)
    return_targets: list[ReturnTarget] = Field(default_factory=list)

    @field_validator("data_bureau")
    @classmethod
    def _bureau(cls, value: str | None) -> str | None:
        return value if value is None else _uscc(value, what="data_bureau")

    @model_validator(mode="after")
    def _unique_names(self) -> BindingsDocument:
        for kind, entries in (("http", self.http), ("sql", self.sql), ("return target", self.return_targets)):
            names = [e.name for e in entries]
            if len(set(names)) != len(names):
                raise ValueError(f"{kind} names repeat")
        return self
