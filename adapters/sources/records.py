"""Check providers' records against the catalog data item's field types.

Mis-typed data is an error, never passed through: a consuming department
must be able to trust that a `date` field holds a date.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import date, datetime
from decimal import Decimal

from adapters.errors import InvalidData
from catalog.schemas import DataField, FieldType

Record = dict[str, object]

_ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DEFAULT_MAX_STRING = 10_000
_MAX_IMAGE_BASE64 = 4 * 1024 * 1024


def parse_fields(fields: list[dict] | list[DataField]) -> list[DataField]:
    return [f if isinstance(f, DataField) else DataField.model_validate(f) for f in fields]


def validate_records(raw_records: list[Record], *, fields: list[DataField], binding: str) -> list[Record]:
    """Every record gets every field key; absent values are None. A record
    with no value in any field is refused: it says nothing, and passed on it
    would read as an answer (the usual cause is a binding whose field paths
    miss the provider's record, e.g. repeating the `records` path)."""
    checked = []
    for i, record in enumerate(raw_records):
        values = {f.key: _checked(record.get(f.key), f, binding=binding, index=i) for f in fields}
        if fields and all(value is None for value in values.values()):
            raise InvalidData(f"record {i} has none of the mapped fields ({', '.join(values)}); the binding's "
                              "field paths are read within each record", binding=binding)
        checked.append(values)
    return checked


def _checked(value: object, field: DataField, *, binding: str, index: int) -> object:
    if value is None:
        return None
    try:
        return _CHECKS[field.type](value, field)
    except (TypeError, ValueError) as exc:
        # The value itself stays out of the message: it may be personal data.
        raise InvalidData(f"record {index}, field {field.key!r} ({field.type.value}): {exc}", binding=binding) from None


def _string(value: object, field: DataField) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    if len(value) > (field.max_length or _DEFAULT_MAX_STRING):
        raise ValueError(f"longer than {field.max_length or _DEFAULT_MAX_STRING} characters")
    return value


def _date(value: object, field: DataField) -> str:
    # datetime is a subclass of date: a timestamp is not a date.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str) or not _ISO_DATE_RE.match(value):
        raise TypeError("expected an ISO 8601 date (YYYY-MM-DD)")
    date.fromisoformat(value)  # rejects 2024-02-30
    return value


def _number(value: object, field: DataField) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _enum(value: object, field: DataField) -> str:
    if not isinstance(value, str) or value not in (field.options or []):
        raise ValueError("not one of the field's options")
    return value


def _image(value: object, field: DataField) -> str:
    if not isinstance(value, str):
        raise TypeError("expected base64 image data")
    if len(value) > _MAX_IMAGE_BASE64:
        raise ValueError("image larger than the bound")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("not valid base64") from None
    return value


_CHECKS = {
    FieldType.string: _string,
    FieldType.date: _date,
    FieldType.number: _number,
    FieldType.enum: _enum,
    FieldType.image: _image,
}
