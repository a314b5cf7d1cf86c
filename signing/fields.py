"""Reading validated fields out of parsed JSON objects (parse on construction)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from signing.encoding import b64url_decode, parse_timestamp
from signing.errors import InvalidInput

# Printable ASCII without quote or backslash: identifiers, codes, kids.
PLAIN_TEXT = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,128}")
DEPARTMENT_CODE = re.compile(r"[0-9A-Z]{18}")


def require_object(value: Any, *, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def check_keys(data: Mapping[str, Any], *, required: set[str], optional: frozenset[str] = frozenset(), what: str) -> None:
    keys = set(data)
    missing, unknown = required - keys, keys - required - optional
    if missing:
        raise InvalidInput(f"{what} lacks {sorted(missing)}")
    if unknown:
        raise InvalidInput(f"{what} has unknown fields {sorted(unknown)}")


def read_text(data: Mapping[str, Any], key: str, *, pattern: re.Pattern[str] = PLAIN_TEXT) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"field {key!r} is missing or not of the expected form")
    return value


def read_any_text(data: Mapping[str, Any], key: str, *, max_length: int = 200) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise InvalidInput(f"field {key!r} must be a non-empty string of at most {max_length} characters")
    return value


def read_int(data: Mapping[str, Any], key: str, *, minimum: int = 0) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidInput(f"field {key!r} must be an integer >= {minimum}")
    return value


def read_time(data: Mapping[str, Any], key: str) -> datetime:
    return parse_timestamp(data.get(key))


def read_optional_time(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    return None if value is None else parse_timestamp(value)


def read_bytes(data: Mapping[str, Any], key: str, *, max_length: int) -> bytes:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"field {key!r} must be base64url text")
    return b64url_decode(value, max_length=max_length)


def read_text_list(data: Mapping[str, Any], key: str, *, max_items: int = 1000) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or len(value) > max_items:
        raise InvalidInput(f"field {key!r} must be a list of at most {max_items} codes")
    if not all(isinstance(item, str) and PLAIN_TEXT.fullmatch(item) for item in value):
        raise InvalidInput(f"field {key!r} must hold plain codes")
    return tuple(value)


def read_choice(data: Mapping[str, Any], key: str, *, choices: set[str]) -> str:
    value = data.get(key)
    if value not in choices:
        raise InvalidInput(f"field {key!r} must be one of {sorted(choices)}")
    return value
