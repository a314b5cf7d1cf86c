"""Boundary checks shared by the service functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from signing.errors import InvalidInput
from signing.fields import DEPARTMENT_CODE, PLAIN_TEXT
from signing.statuses import ANY_LICENCE_TYPE


def department_code(value: str, *, name: str = "department code") -> str:
    if not isinstance(value, str) or not DEPARTMENT_CODE.fullmatch(value):
        raise InvalidInput(f"{name} must be 18 characters of digits and capital letters")
    return value


def licence_type_codes(values: Sequence[str]) -> list[str]:
    if isinstance(values, str) or not values or len(values) > 1000:
        raise InvalidInput("give between 1 and 1000 licence type codes")
    codes = list(dict.fromkeys(values))
    for code in codes:
        if not isinstance(code, str) or not PLAIN_TEXT.fullmatch(code):
            raise InvalidInput(f"licence type code {code!r} is not a plain code")
    if ANY_LICENCE_TYPE in codes and len(codes) > 1:
        raise InvalidInput("'*' (any licence type) stands alone")
    return codes


def aware(value: datetime, *, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def period(valid_from: datetime, valid_to: datetime) -> tuple[datetime, datetime]:
    start, end = aware(valid_from, name="valid_from"), aware(valid_to, name="valid_to")
    if end <= start:
        raise InvalidInput("valid_to must be after valid_from")
    return start, end


def now_or(value: datetime | None) -> datetime:
    return datetime.now(UTC) if value is None else aware(value, name="now")
