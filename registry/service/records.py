"""What goes into a licence: the holder, the face fields checked against the
type's schema, the validity period, and the catalog record that is sealed."""

from __future__ import annotations

import calendar
import math
import re
from datetime import date, datetime, timedelta
from typing import Any

from catalog.models import Department, LicenceType
from identity.codes import citizen_id_check_character, validate_uscc
from identity.errors import InvalidCode
from registry.errors import InvalidHolder, InvalidLicenceRequest
from registry.models import CHINA_TIME, HolderCodeType

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CITIZEN_ID = re.compile(r"^[0-9]{17}[0-9X]$")
_HOLDER_KIND_CODE = {"natural_person": HolderCodeType.CITIZEN_ID, "organisation": HolderCodeType.USCC}
MAX_NAME = 200


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA_TIME).date()


def validate_citizen_id(code: str) -> str:
    if not _CITIZEN_ID.match(code):
        raise InvalidHolder("holder.code: a citizen ID number is 17 digits and a digit or X", field="holder.code")
    try:
        date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        raise InvalidHolder("holder.code: the citizen ID number carries an impossible birth date",
                            field="holder.code") from None
    if citizen_id_check_character(code[:17]) != code[17]:
        raise InvalidHolder("holder.code: wrong check character in the citizen ID number", field="holder.code")
    return code


def validate_holder(*, licence_type: LicenceType, name: str, code: str, code_type: str) -> tuple[str, str, str]:
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidHolder(f"holder.name: 1 to {MAX_NAME} characters", field="holder.name")
    expected = _HOLDER_KIND_CODE.get(licence_type.holder_kind)
    if code_type != expected:
        raise InvalidHolder(
            f"holder.code_type: {licence_type.name} is held by a {licence_type.holder_kind}, code type {expected}",
            field="holder.code_type",
        )
    code = (code or "").strip().upper()
    if code_type == HolderCodeType.CITIZEN_ID:
        return name, validate_citizen_id(code), code_type
    try:
        return name, validate_uscc(code, what="holder.code"), code_type
    except InvalidCode as exc:
        raise InvalidHolder(f"holder.code: {exc}", field="holder.code") from None


def validate_face(*, licence_type: LicenceType, face: dict[str, Any]) -> dict[str, Any]:
    """Check face fields against the type's schema (the version given); refuse unknown fields."""
    if not isinstance(face, dict):
        raise InvalidLicenceRequest("face: expected an object of field values", field="face")
    schema = {f["key"]: f for f in licence_type.fields}
    unknown = sorted(set(face) - schema.keys())
    if unknown:
        raise InvalidLicenceRequest(
            f"face.{unknown[0]}: not a field of {licence_type.name} (fields: {', '.join(schema)})",
            field=f"face.{unknown[0]}",
        )
    cleaned: dict[str, Any] = {}
    for key, spec in schema.items():
        value = face.get(key)
        if value is None or value == "":
            if spec.get("required"):
                raise InvalidLicenceRequest(f"face.{key} ({spec['label']}) is required", field=f"face.{key}")
            continue
        cleaned[key] = _field_value(spec, value)
    return cleaned


def _field_value(spec: dict, value: Any) -> Any:
    key, kind = spec["key"], spec["type"]
    where = f"face.{key} ({spec['label']})"

    def refuse(message: str) -> InvalidLicenceRequest:
        return InvalidLicenceRequest(f"{where}: {message}", field=f"face.{key}")

    if kind in ("string", "image"):
        if not isinstance(value, str):
            raise refuse("expected text")
        limit = spec.get("max_length") or 10000
        if len(value) > limit:
            raise refuse(f"at most {limit} characters")
        return value
    if kind == "enum":
        if value not in (spec.get("options") or []):
            raise refuse(f"must be one of {', '.join(spec.get('options') or [])}")
        return value
    if kind == "date":
        if not isinstance(value, str) or not _DATE.match(value):
            raise refuse("expected a date YYYY-MM-DD")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise refuse("not a calendar date") from None
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse("expected a number")
        if isinstance(value, int) and abs(value) > 2**53 - 1:
            raise refuse("number out of range")
        if isinstance(value, float) and not math.isfinite(value):
            raise refuse("number out of range")
        return value
    raise refuse(f"unsupported field type {kind}")


def validity_period(
    *, licence_type: LicenceType, issued_on: date, valid_from: date | None, valid_until: date | None
) -> tuple[date, date | None]:
    """From the type's validity rule: permanent, given by the request, or a period from the start."""
    rule = licence_type.validity
    kind = rule["kind"]
    start = valid_from or issued_on
    if kind == "given":
        if valid_from is None or valid_until is None:
            raise InvalidLicenceRequest(
                f"validity: {licence_type.name} needs valid_from and valid_until in the request", field="valid_until"
            )
        end: date | None = valid_until
    else:
        if valid_until is not None:
            raise InvalidLicenceRequest(
                f"valid_until: {licence_type.name} has validity rule {kind!r}; the end date is not given",
                field="valid_until",
            )
        end = None if kind == "permanent" else _period_end(start, kind, rule["value"])
    if end is not None and end < start:
        raise InvalidLicenceRequest("valid_until: before valid_from", field="valid_until")
    return start, end


def _period_end(start: date, kind: str, value: int) -> date:
    # A period of n years from 2025-03-01 ends on 2030-02-28: the last day it still holds.
    if kind == "days":
        return start + timedelta(days=value - 1)
    months = value * 12 if kind == "years" else value
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) - timedelta(days=1)


def catalog_record(
    *,
    licence_type: LicenceType,
    identifier: str,
    version: int,
    holder: tuple[str, str, str],
    issuer: Department,
    issued_on: date,
    valid_from: date,
    valid_until: date | None,
    face: dict[str, Any],
) -> dict[str, Any]:
    """SPEC: GB/T 36902 — the catalog record of an e-licence, as sealed.

    Status is deliberately absent: it changes without a new version and is
    published in the status list instead.
    """
    holder_name, holder_code, holder_code_type = holder
    return {
        "licence_name": licence_type.name,
        "licence_type_code": licence_type.code,
        "licence_type_name": licence_type.name,
        "licence_type_version": licence_type.version,
        "identifier": identifier,
        "holder_name": holder_name,
        "holder_code": holder_code,
        "holder_code_type": holder_code_type,
        "issuer_name": issuer.name,
        "issuer_code": issuer.code,
        "issue_date": issued_on.isoformat(),
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat() if valid_until else None,
        "region_code": issuer.region_code,
        "version": version,
        "face": face,
    }
