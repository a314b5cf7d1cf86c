"""Validation of the codes the catalog is keyed by."""

from __future__ import annotations

import re

from catalog.errors import InvalidCode

# SPEC: GB 32100-2015 §4 — the 统一社会信用代码 alphabet (no I, O, S, V, Z)
# and the weights of positions 1..17 for the check character.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUES = {ch: i for i, ch in enumerate(USCC_ALPHABET)}

# SPEC: GB 11643-1999 §8.2 — the resident ID number's check character is
# ISO 7064 MOD 11-2 over the first 17 digits: weights 2^(17-i) mod 11, and
# the value 10 is written X.
_CITIZEN_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CITIZEN_ID_CHECK = "10X98765432"

_REGION_RE = re.compile(r"^[1-8][0-9]{5}$")
# SPEC: GB/T 21063.4 — 前段码 (类 1 digit, 项 2 [, 目 3 [, 细目 3]]) "/" 后段码 (6-digit sequence)
_RESOURCE_RE = re.compile(r"^[1-3][0-9]{2}([0-9]{3}([0-9]{3})?)?/[0-9]{6}$")
_MATTER_RE = re.compile(r"^[0-9A-Z]{6,40}$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def uscc_check_character(first17: str) -> str:
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    check = 31 - total % 31
    return USCC_ALPHABET[0 if check == 31 else check]


def validate_uscc(code: str, *, what: str = "USCC") -> str:
    if not isinstance(code, str) or len(code) != 18:
        raise InvalidCode(f"{what} {code!r} must be 18 characters")
    bad = sorted({ch for ch in code if ch not in _USCC_VALUES})
    if bad:
        raise InvalidCode(f"{what} {code!r} contains characters outside GB 32100: {''.join(bad)}")
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise InvalidCode(f"{what} {code!r} has a wrong check character (expected {expected!r})")
    return code


def citizen_id_check_character(first17: str) -> str:
    """The 18th character of a 身份证号 whose first 17 digits are given."""
    total = sum(int(d) * w for d, w in zip(first17, _CITIZEN_ID_WEIGHTS, strict=True))
    return _CITIZEN_ID_CHECK[total % 11]


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
