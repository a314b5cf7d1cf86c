"""The mapping file: which source column feeds which licence field, and how
a legacy value becomes a valid one. Validated strictly, then bound to the
licence type (its face-field schema from the catalog) and to the source's
columns before a single row is read.

```yaml
version: 1
source:
  system: fz-samr-legacy        # names the source system; with the key it identifies a record for good
  key: [reg_no]                 # the column(s) identifying a record in that system
holder:
  name: qymc                    # shorthand for {column: qymc}
  code: {column: tyshxydm, transforms: [strip, upper]}
  code_type: {value: "001"}     # a constant
valid_from: {column: fzrq, date_format: ["%Y%m%d", "%Y-%m-%d"]}
face:
  uscc: tyshxydm
  kind: {column: qylx, map: {"1": 有限责任公司, "2": 个体工商户}}
  founded: {column: clrq, date_format: "%Y%m%d"}
```
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from adapters.imports.errors import InvalidMapping
from adapters.imports.readers import SourceRow
from catalog.models import LicenceType
from identity.masking import MaskRule, mask_value

MAX_MAPPING_BYTES = 1 << 20
MAX_SOURCE_KEY = 200
KEY_SEPARATOR = "|"
ISO_DATE = "%Y-%m-%d"
_HOLDER_CODE_TYPE = {"natural_person": "111", "organisation": "001"}  # GB/T 36902 holder code types
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_SYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")

Transform = Literal["strip", "upper", "lower", "collapse_spaces", "remove_spaces", "halfwidth"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class FieldSource(_Strict):
    """Where one licence field comes from: a column or a constant value."""

    column: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    value: str | int | float | None = None
    transforms: list[Transform] = Field(default_factory=lambda: list[Transform](["strip"]), max_length=10)
    date_format: Annotated[list[Annotated[str, Field(min_length=2, max_length=40)]],
                           BeforeValidator(_one_or_many), Field(min_length=1, max_length=10)] | None = None
    map: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=10_000)

    @model_validator(mode="after")
    def _one_origin(self) -> FieldSource:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of column (a source column) or value (a constant)")
        for pattern in self.date_format or []:
            if "%" not in pattern:
                raise ValueError(f"date_format {pattern!r} has no strftime directive (e.g. %Y%m%d)")
        return self


def _column_shorthand(value: Any) -> Any:
    return {"column": value} if isinstance(value, str) else value


Source = Annotated[FieldSource, BeforeValidator(_column_shorthand)]


class SourceSpec(_Strict):
    system: str
    key: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], BeforeValidator(_one_or_many),
                   Field(min_length=1, max_length=5)]
    query: Annotated[str, Field(max_length=20_000)] | None = None  # SQL sources
    params: dict[Annotated[str, Field(max_length=64)], str | int | float | bool | None] = Field(
        default_factory=dict, max_length=50)
    sheet: Annotated[str, Field(max_length=100)] | None = None  # XLSX sources; default the first sheet
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","  # CSV sources
    encoding: Annotated[str, Field(max_length=40)] | None = None  # CSV sources; default detected

    @field_validator("system")
    @classmethod
    def _system_name(cls, value: str) -> str:
        if not _SYSTEM.match(value):
            raise ValueError("a name of letters, digits and . _ : - (at most 100 characters)")
        return value


class HolderSpec(_Strict):
    name: Source
    code: Source
    code_type: Source


class ImportMapping(_Strict):
    version: Literal[1]
    source: SourceSpec
    holder: HolderSpec
    valid_from: Source | None = None
    valid_until: Source | None = None
    face: dict[Annotated[str, Field(max_length=40)], Source] = Field(default_factory=dict, max_length=200)

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_mapping(path: Path) -> ImportMapping:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidMapping(f"cannot read the mapping file {path.name}: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_MAPPING_BYTES:
        raise InvalidMapping(f"mapping file {path.name} is larger than {MAX_MAPPING_BYTES} bytes")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InvalidMapping(f"mapping file {path.name} is not valid YAML: {exc}") from None
    return parse_mapping(data, where=path.name)


def parse_mapping(data: Any, *, where: str = "mapping") -> ImportMapping:
    if not isinstance(data, dict):
        raise InvalidMapping(f"{where}: expected a mapping with version, source, holder and face")
    try:
        return ImportMapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()[:10]
        )
        raise InvalidMapping(f"{where}: {problems}") from None


# -- the default mapping: the CSV header names the licence fields --------------------------------

DEFAULT_COLUMNS = ("holder_name", "holder_code", "holder_code_type", "valid_from", "valid_until", "source_key")


def default_mapping(*, columns: tuple[str, ...], licence_type: LicenceType, system: str) -> ImportMapping:
    """Header-named fields: holder_name, holder_code, holder_code_type,
    valid_from / valid_until (YYYY-MM-DD), source_key (else the holder code
    is the key: one licence of the type per holder), and face field keys."""
    face_keys = [f["key"] for f in licence_type.fields]
    unknown = [c for c in columns if c not in DEFAULT_COLUMNS and c not in face_keys]
    if unknown:
        raise InvalidMapping(
            f"column {unknown[0]!r} is neither a licence column ({', '.join(DEFAULT_COLUMNS)}) nor a face field "
            f"of {licence_type.name} ({', '.join(face_keys)}); pass a mapping file to map other column names"
        )
    for needed in ("holder_name", "holder_code"):
        if needed not in columns:
            raise InvalidMapping(f"the CSV has no {needed} column")
    data: dict[str, Any] = {
        "version": 1,
        "source": {"system": system, "key": "source_key" if "source_key" in columns else "holder_code"},
        "holder": {
            "name": "holder_name",
            "code": {"column": "holder_code", "transforms": ["strip", "upper"]},
            "code_type": "holder_code_type" if "holder_code_type" in columns
            else {"value": _HOLDER_CODE_TYPE.get(licence_type.holder_kind, "")},
        },
        "face": {c: c for c in columns if c in face_keys},
    }
    for name in ("valid_from", "valid_until"):
        if name in columns:
            data[name] = {"column": name, "date_format": ISO_DATE}
    return parse_mapping(data, where="CSV header")


# -- mapping rows --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappedRow:
    """A source record as licence fields, typed per the licence type's schema.
    The registry still validates it (holder code check digits, required fields, ...)."""

    ordinal: int
    row: int
    source_key: str
    holder_name: str | None
    holder_code: str | None
    holder_code_type: str | None
    valid_from: date | None
    valid_until: date | None
    face: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One line of the error report: something a clerk can find and fix."""

    row: int
    source_key: str | None
    field: str | None
    column: str | None
    code: str
    message: str


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Target:
    name: str  # holder.name, face.founded, valid_until
    label: str  # what the clerk reads: the schema label when there is one
    kind: str  # text | date | number | enum | validity_date
    source: FieldSource
    options: tuple[str, ...] = ()
    mask: str = MaskRule.none


class RowMapper:
    """A mapping bound to a licence type and a source's columns."""

    def __init__(self, mapping: ImportMapping, *, licence_type: LicenceType, columns: tuple[str, ...]) -> None:
        self.mapping = mapping
        self.system = mapping.source.system
        self.key_columns = tuple(mapping.source.key)
        self._targets = _targets(mapping, licence_type)
        _check_columns(mapping, self._targets, columns)
        self.digest = hashlib.sha256(
            f"{mapping.digest()}:{licence_type.code}:{licence_type.version}".encode()
        ).hexdigest()

    def map(self, source: SourceRow) -> MappedRow | list[RowProblem]:
        key, problems = self._key(source)
        if source.problem:
            problems.append(RowProblem(source.row, key, None, None, "malformed_row", source.problem))
        values: dict[str, Any] = {}
        for target in self._targets:
            try:
                values[target.name] = _convert(target, source.values)
            except _Refused as refused:
                problems.append(RowProblem(source.row, key, target.name, target.source.column, refused.code,
                                           f"{target.label}: {refused}"))
        if problems or key is None:
            return problems
        return MappedRow(
            ordinal=source.ordinal, row=source.row, source_key=key,
            holder_name=values.get("holder.name"), holder_code=values.get("holder.code"),
            holder_code_type=values.get("holder.code_type"),
            valid_from=values.get("valid_from"), valid_until=values.get("valid_until"),
            face={t.name[5:]: values[t.name] for t in self._targets
                  if t.name.startswith("face.") and values[t.name] is not None},
        )

    def _key(self, source: SourceRow) -> tuple[str | None, list[RowProblem]]:
        parts = []
        for column in self.key_columns:
            text = _as_text(source.values.get(column))
            text = text.strip() if text is not None else ""
            if not text:
                return None, [RowProblem(source.row, None, "source_key", column, "missing_key",
                                         f"the source key column {column!r} is empty")]
            parts.append(text)
        key = KEY_SEPARATOR.join(parts)
        if len(key) > MAX_SOURCE_KEY or not key.isprintable():
            return None, [RowProblem(source.row, None, "source_key", self.key_columns[0], "bad_key",
                                     f"the source key must be printable and at most {MAX_SOURCE_KEY} characters")]
        return key, []


def _targets(mapping: ImportMapping, licence_type: LicenceType) -> list[_Target]:
    schema = {f["key"]: f for f in licence_type.fields}
    unknown = sorted(set(mapping.face) - schema.keys())
    if unknown:
        raise InvalidMapping(f"face.{unknown[0]}: {licence_type.name} has no such field (fields: {', '.join(schema)})")
    missing = [k for k, spec in schema.items() if spec.get("required") and k not in mapping.face]
    if missing:
        spec = schema[missing[0]]
        raise InvalidMapping(f"face.{missing[0]} ({spec['label']}) is required by {licence_type.name} but not mapped")
    _check_validity(mapping, licence_type)
    _check_code_type(mapping.holder.code_type, licence_type)
    targets = [
        _Target("holder.name", "holder name (持证主体名称)", "text", mapping.holder.name, mask=MaskRule.name),
        _Target("holder.code", "holder code (持证主体代码)", "text", mapping.holder.code, mask=MaskRule.id_number),
        _Target("holder.code_type", "holder code type (持证主体代码类型)", "text", mapping.holder.code_type),
    ]
    for name in ("valid_from", "valid_until"):
        source = getattr(mapping, name)
        if source is not None:
            targets.append(_Target(name, name, "validity_date", source))
    for key, source in mapping.face.items():
        spec = schema[key]
        kind = {"date": "date", "number": "number", "enum": "enum"}.get(spec["type"], "text")
        mask = spec.get("mask", MaskRule.none) if spec.get("sensitive") else MaskRule.none
        targets.append(_Target(f"face.{key}", f"{spec['label']} (face.{key})", kind, source,
                               tuple(spec.get("options") or ()), mask))
    for target in targets:
        _check_target(target)
    return targets


def _check_validity(mapping: ImportMapping, licence_type: LicenceType) -> None:
    kind = licence_type.validity["kind"]
    if kind == "given" and (mapping.valid_from is None or mapping.valid_until is None):
        raise InvalidMapping(f"{licence_type.name} takes its validity from the source: map valid_from and valid_until")
    if kind != "given" and mapping.valid_until is not None:
        raise InvalidMapping(
            f"valid_until: {licence_type.name}'s validity is {kind!r}, so the end date is computed, not mapped"
        )


def _check_code_type(source: FieldSource, licence_type: LicenceType) -> None:
    expected = _HOLDER_CODE_TYPE.get(licence_type.holder_kind)
    if source.value is not None and str(source.value) != expected:
        raise InvalidMapping(
            f"holder.code_type: {licence_type.name} is held by a {licence_type.holder_kind}, code type {expected}"
        )


def _check_target(target: _Target) -> None:
    source = target.source
    if source.date_format and target.kind not in ("date", "validity_date"):
        raise InvalidMapping(f"{target.name}: date_format is only for date fields")
    if source.map and target.kind == "enum":
        bad = sorted(v for v in set(source.map.values()) if v not in target.options)
        if bad:
            raise InvalidMapping(f"{target.name}: map gives {bad[0]!r}, not one of {', '.join(target.options)}")
    if source.value is not None:
        try:
            _convert(target, {})
        except _Refused as refused:
            raise InvalidMapping(f"{target.name}: the constant value is refused: {refused}") from None


def _check_columns(mapping: ImportMapping, targets: list[_Target], columns: tuple[str, ...]) -> None:
    present = set(columns)
    shown = ", ".join(columns[:30]) + (" ..." if len(columns) > 30 else "")
    for column in mapping.source.key:
        if column not in present:
            raise InvalidMapping(f"source.key: column {column!r} is not in the source (columns: {shown})")
    for target in targets:
        source_column = target.source.column
        if source_column is not None and source_column not in present:
            raise InvalidMapping(f"{target.name}: column {source_column!r} is not in the source (columns: {shown})")


# -- converting one value ------------------------------------------------------------------------


def _convert(target: _Target, values: Any) -> Any:
    source = target.source
    raw = source.value if source.column is None else values.get(source.column)
    if target.kind in ("date", "validity_date") and isinstance(raw, (date, datetime)):
        day = raw.date() if isinstance(raw, datetime) else raw
        return day if target.kind == "validity_date" else day.isoformat()
    if target.kind == "number" and isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return _number(raw, target)
    text = _as_text(raw)
    if text is not None:
        for transform in source.transforms:
            text = _TRANSFORMS[transform](text)
    if not text:
        return None
    if source.map is not None:
        if text not in source.map:
            raise _Refused("unmapped_value", f"{_shown(text, target)} is not one of the mapped source values "
                                             f"({', '.join(list(source.map)[:20])})")
        text = source.map[text]
    if target.kind == "enum" and text not in target.options:
        raise _Refused("unknown_value", f"{_shown(text, target)} is not one of {', '.join(target.options)}")
    if target.kind in ("date", "validity_date"):
        day = _date(text, source.date_format or [ISO_DATE], target)
        return day if target.kind == "validity_date" else day.isoformat()
    if target.kind == "number":
        return _number(text, target)
    return text


def _as_text(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**63:
        return str(int(raw))  # spreadsheets store codes typed as numbers as floats
    if isinstance(raw, Decimal):
        return format(raw.normalize(), "f") if raw == raw.to_integral_value() else str(raw)
    if isinstance(raw, (date, datetime)):
        return raw.isoformat()
    return str(raw)


def _shown(text: str, target: _Target) -> str:
    # Personal data stays masked in the report unless the field is not sensitive.
    return repr(mask_value(text, target.mask)) if target.mask != MaskRule.none else repr(text[:60])


def _date(text: str, formats: list[str], target: _Target) -> date:
    for pattern in formats:
        day = _parse_date(text, pattern)
        if day is not None:
            return day
    expected = " or ".join(formats).replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
    raise _Refused("bad_date", f"{_shown(text, target)} is not a date of the form {expected}")


@lru_cache(maxsize=8192)
def _parse_date(text: str, pattern: str) -> date | None:
    """Legacy data repeats its dates; strptime is slow, so the answers are cached (bounded)."""
    if pattern == "%Y%m%d" and len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    try:
        return datetime.strptime(text, pattern).date()
    except ValueError:
        return None


def _number(raw: Any, target: _Target) -> int | float:
    if isinstance(raw, int):
        value: int | float = raw
    elif isinstance(raw, float):
        value = raw
    elif isinstance(raw, Decimal):
        value = int(raw) if raw == raw.to_integral_value() else float(raw)
    else:
        text = raw.replace(",", "").replace("，", "")
        if _INTEGER.match(text):
            value = int(text)
        elif _DECIMAL.match(text):
            try:
                value = float(Decimal(text))
            except (InvalidOperation, OverflowError):
                raise _Refused("bad_number", f"{_shown(raw, target)} is not a number") from None
        else:
            raise _Refused("bad_number", f"{_shown(raw, target)} is not a number")
    if isinstance(value, int) and abs(value) > 2**53 - 1 or isinstance(value, float) and not abs(value) < 1e300:
        raise _Refused("bad_number", "the number is out of range")
    return value


_TRANSFORMS: dict[Transform, Callable[[str], str]] = {
    "strip": str.strip,
    "upper": str.upper,
    "lower": str.lower,
    "collapse_spaces": lambda s: " ".join(s.split()),
    "remove_spaces": lambda s: "".join(s.split()),
    # Full-width letters and digits (ＡＢＣ１２３) typed in Chinese input methods, to ASCII.
    "halfwidth": lambda s: unicodedata.normalize("NFKC", s),
}
