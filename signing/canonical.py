"""Canonical bytes of JSON records: what a seal actually signs.

# SPEC: RFC 8785 (JSON Canonicalization Scheme) — members sorted by UTF-16
# code units, no insignificant whitespace, ECMAScript number formatting,
# minimal string escaping (§3.2.2.2), UTF-8 output.

Licence records are mostly strings, small integers, booleans and nulls.
For those, Python's compact sorted `json.dumps` already produces the RFC 8785
bytes: it escapes exactly `"`, `\\` and U+0000..U+001F with the same short
forms (\\b \\f \\n \\r \\t) and lowercase \\u00xx, and for keys inside the Basic
Multilingual Plane code-point order equals UTF-16 order. Anything else
(floats, integers beyond 2^53, keys outside the BMP, other types) goes
through the `rfc8785` package. Tests compare both paths on generated records.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from signing.errors import InvalidInput

MAX_RECORD_BYTES = 1024 * 1024
MAX_DEPTH = 64
_MAX_SAFE_INTEGER = 2**53 - 1  # SPEC: RFC 8785 §3.2.2.3 — I-JSON integer range
_BMP_LIMIT = "\uffff"
_encode_plain = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _is_plain(value: Any, depth: int = 0) -> bool:
    """True when `value` holds only types for which json.dumps equals RFC 8785."""
    if depth > MAX_DEPTH:
        return False
    if value is None or value is True or value is False or type(value) is str:
        return True
    if type(value) is int:
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > _BMP_LIMIT):
                return False
            if not _is_plain(item, depth + 1):
                return False
        return True
    if type(value) is list:
        return all(_is_plain(item, depth + 1) for item in value)
    return False


def _canonical_general(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as error:
        raise InvalidInput(f"record cannot be canonicalized (RFC 8785): {error}") from None


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of `value`; InvalidInput for values JSON cannot carry exactly."""
    encoded: bytes | None = None
    if _is_plain(value):
        try:
            encoded = _encode_plain(value).encode("utf-8")
        except UnicodeEncodeError:
            encoded = None  # lone surrogates: let the general path report them
    if encoded is None:
        encoded = _canonical_general(value)
    if len(encoded) > MAX_RECORD_BYTES:
        raise InvalidInput(f"canonical record is over {MAX_RECORD_BYTES} bytes")
    return encoded


def canonical_json_reference(value: Any) -> bytes:
    """The `rfc8785` package's output alone, for comparison and diagnostics."""
    return _canonical_general(value)
