"""The authenticated holder and the rules for holder codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from identity.codes import citizen_id_check_character, validate_uscc
from identity.errors import InvalidCode

# SPEC: GB/T 36902 holder code types: 111 = resident ID number, 001 = USCC.
CITIZEN = "111"
ORGANISATION = "001"
HOLDER_CODE_TYPES = (CITIZEN, ORGANISATION)
AUTH_METHODS = ("oidc", "dev")
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class HolderPrincipal:
    """A holder acting on their own behalf.

    `name` is the holder's name: the citizen's, or the organisation's for
    type 001, whose `operator_name` is the person acting for it (organisations
    always act through a named person). Proxies are not modelled here.
    """

    holder_code: str
    holder_code_type: str
    name: str
    auth_method: str
    session_id: str
    operator_name: str | None = None

    @property
    def is_organisation(self) -> bool:
        return self.holder_code_type == ORGANISATION


def validate_citizen_id(code: str) -> str:
    """An 18-character resident ID number (GB 11643); messages never echo it."""
    if not isinstance(code, str) or len(code) != 18:
        raise InvalidCode("a citizen ID number must be 18 characters (GB 11643)")
    if not code[:17].isascii() or not code[:17].isdigit() or code[17] not in "0123456789X":
        raise InvalidCode("a citizen ID number is 17 digits and a check character 0-9 or X (GB 11643)")
    try:
        born = date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        raise InvalidCode("the citizen ID number's birth date (positions 7-14) is not a date") from None
    if born > date.today():
        raise InvalidCode("the citizen ID number's birth date is in the future")
    if code[17] != citizen_id_check_character(code[:17]):
        raise InvalidCode("the citizen ID number's check character is wrong (ISO 7064 MOD 11-2)")
    return code


def validate_holder_code(*, code: object, code_type: object) -> tuple[str, str]:
    """Validate a holder code against its type; returns (code, type).

    Lower-case x is accepted and normalised: some identity providers send it.
    """
    if code_type not in HOLDER_CODE_TYPES:
        raise InvalidCode(f"holder code type must be one of {', '.join(HOLDER_CODE_TYPES)}")
    if not isinstance(code, str):
        raise InvalidCode("holder code must be a string")
    if code_type == CITIZEN:
        return validate_citizen_id(code.upper()), CITIZEN
    try:
        return validate_uscc(code), ORGANISATION
    except InvalidCode:
        # validate_uscc's message quotes the code; say what is wrong without it.
        raise InvalidCode("holder code is not a valid unified social credit code (GB 32100)") from None


def validate_name(value: object, *, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCode(f"{what} is required")
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidCode(f"{what} is longer than {MAX_NAME_LENGTH} characters")
    return value
