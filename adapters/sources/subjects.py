"""Subjects a data item is looked up by: a citizen's 身份证号 or an
organisation's 统一社会信用代码, validated before any provider sees them."""

from __future__ import annotations

import re

from catalog.codes import validate_uscc
from catalog.errors import InvalidCode
from catalog.masking import MaskRule, mask_value

from adapters.errors import InvalidSubject

# SPEC: GB 11643-1999 §5 — 17 digits, then an ISO 7064 MOD 11-2 check
# character (digit or X).
_ID_RE = re.compile(r"^[1-8][0-9]{16}[0-9X]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_check_character(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def validate_subject(subject: object, *, subject_kind: str) -> str:
    """Return the subject if it is a valid code for the kind, else raise."""
    if not isinstance(subject, str):
        raise InvalidSubject("the subject must be a string")
    if subject_kind == "natural_person":
        if not _ID_RE.match(subject) or id_number_check_character(subject[:17]) != subject[17]:
            raise InvalidSubject(f"subject {mask_subject(subject)} is not a valid 身份证号 (GB 11643)")
        return subject
    if subject_kind == "organisation":
        try:
            return validate_uscc(subject)
        except InvalidCode:
            raise InvalidSubject(f"subject {mask_subject(subject)} is not a valid USCC (GB 32100)") from None
    raise InvalidSubject(f"unknown subject kind {subject_kind!r}")


def mask_subject(subject: str) -> str:
    """The subject as it may appear in logs and messages (3501**********1234)."""
    if not isinstance(subject, str) or len(subject) > 64:
        return "***"
    return str(mask_value(subject, MaskRule.id_number))
