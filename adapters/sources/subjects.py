"""Subjects a data item is looked up by: a citizen's 身份证号 or an
organisation's 统一社会信用代码, validated before any provider sees them."""

from __future__ import annotations

import re

from adapters.errors import InvalidSubject
from identity.codes import citizen_id_check_character, validate_uscc
from identity.errors import InvalidCode
from identity.masking import MaskRule, mask_value

# SPEC: GB 11643-1999 §5 — 17 digits, then the check character
# (catalog.codes.citizen_id_check_character).
_ID_RE = re.compile(r"^[1-8][0-9]{16}[0-9X]$")


def validate_subject(subject: object, *, subject_kind: str) -> str:
    """Return the subject if it is a valid code for the kind, else raise."""
    if not isinstance(subject, str):
        raise InvalidSubject("the subject must be a string")
    if subject_kind == "natural_person":
        if not _ID_RE.match(subject) or citizen_id_check_character(subject[:17]) != subject[17]:
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
