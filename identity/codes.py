"""Identifiers of the people and organisations certhub knows: the 统一社会信用代码
of an organisation (GB 32100) and a resident's ID number (GB 11643)."""

from __future__ import annotations

from identity.errors import InvalidCode

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
