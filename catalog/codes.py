"""Validation of the codes the catalog is keyed by."""

from __future__ import annotations

import re

from identity.codes import validate_uscc
from identity.errors import InvalidCode

_REGION_RE = re.compile(r"^[1-8][0-9]{5}$")
# SPEC: GB/T 21063.4 — 前段码 (类 1 digit, 项 2 [, 目 3 [, 细目 3]]) "/" 后段码 (6-digit sequence)
_RESOURCE_RE = re.compile(r"^[1-3][0-9]{2}([0-9]{3}([0-9]{3})?)?/[0-9]{6}$")
_MATTER_RE = re.compile(r"^[0-9A-Z]{6,40}$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def validate_region_code(code: str) -> str:
    if not isinstance(code, str) or not _REGION_RE.match(code):
        raise InvalidCode(f"region code {code!r} must be six digits (GB/T 2260)")
    return code


def region_level(code: str) -> str:
    """The administrative level a GB/T 2260 code denotes."""
    validate_region_code(code)
    if code[2:] == "0000":
        return "province"
    if code[4:] == "00":
        return "city"
    return "county"


def region_contains(parent: str, child: str) -> bool:
    """Whether region `child` lies within region `parent` (or is it)."""
    level = region_level(parent)
    prefix = {"province": 2, "city": 4, "county": 6}[level]
    return child[:prefix] == parent[:prefix]


def validate_licence_type_code(code: str) -> str:
    """A licence type code: the defining body's USCC and a 3-digit sequence."""
    if not isinstance(code, str) or len(code) != 21 or not code[18:].isdigit():
        raise InvalidCode(f"licence type code {code!r} must be an 18-character USCC followed by 3 digits")
    validate_uscc(code[:18], what=f"licence type code {code!r}: defining body USCC")
    return code


def validate_resource_code(code: str) -> str:
    if not isinstance(code, str) or not _RESOURCE_RE.match(code):
        raise InvalidCode(
            f"data item code {code!r} is not a GB/T 21063 resource code "
            "(e.g. 301001001/000001: class, item, category, sub-category / 6-digit sequence)"
        )
    return code


def validate_matter_code(code: str) -> str:
    if not isinstance(code, str) or not _MATTER_RE.match(code):
        raise InvalidCode(f"matter code {code!r} must be 6 to 40 digits or capital letters")
    return code


def validate_key(key: str, *, what: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise InvalidCode(f"{what} {key!r} must match {_KEY_RE.pattern}")
    return key
