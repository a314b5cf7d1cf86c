"""Licence types (证照类型) and their versioned face-field schemas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from catalog import snapshots
from catalog.errors import NotFound, UnknownReference
from catalog.models import LicenceType, LicenceTypeIssuer
from catalog.schemas import LicenceTypeIn, LicenceTypeOut
from catalog.service import departments


def get_current(*, session: Session, code: str) -> LicenceType | None:
    return session.scalar(
        select(LicenceType).where(LicenceType.code == code, LicenceType.is_current.is_(True))
    )


@dataclass(frozen=True)
class FaceRules:
    """What disclosing a licence needs of the type version it was issued
    under: its name and its face fields' rules (labels, sensitivity, masks).
    Read-only values, shared between threads."""

    code: str
    version: int
    name: str
    fields: tuple[Mapping[str, Any], ...]


_NAME_AND_FIELDS = select(LicenceType.name, LicenceType.fields).where(
    LicenceType.code == bindparam("code"), LicenceType.version == bindparam("version")
)


def face_rules_kept(*, session: Session, code: str, version: int) -> FaceRules | None:
    """The face rules of one licence type version, remembered for a few
    seconds once found (catalog.snapshots). A version's definition never
    changes (``upsert`` makes a new version instead), so what is kept is
    never stale; the memory only saves the read, once per redemption."""

    def load() -> FaceRules | None:
        row = session.execute(_NAME_AND_FIELDS, {"code": code, "version": version}).one_or_none()
        if row is None:
            return None
        return FaceRules(code=code, version=version, name=row.name,
                         fields=tuple(MappingProxyType(dict(spec)) for spec in row.fields))

    return snapshots.memo_for(session=session).get(("licence_type_face", code, version), load,
                                           keep=lambda rules: rules is not None)


def get_or_raise(*, session: Session, code: str, version: int | None = None) -> LicenceType:
    if version is None:
        found = get_current(session=session, code=code)
    else:
        found = session.scalar(
            select(LicenceType).where(LicenceType.code == code, LicenceType.version == version)
        )
    if found is None:
        suffix = "" if version is None else f" version {version}"
        raise NotFound(f"licence type {code}{suffix} not found")
    return found


def list_(*, session: Session, issuer: str | None = None) -> list[LicenceType]:
    query = select(LicenceType).where(LicenceType.is_current.is_(True)).order_by(LicenceType.code)
    if issuer:
        query = query.where(
            LicenceType.code.in_(
                select(LicenceTypeIssuer.type_code).where(LicenceTypeIssuer.department_code == issuer)
            )
        )
    return list(session.scalars(query))


def versions(*, session: Session, code: str) -> list[LicenceType]:
    return list(
        session.scalars(select(LicenceType).where(LicenceType.code == code).order_by(LicenceType.version))
    )


def issuers(*, session: Session, code: str) -> list[str]:
    return list(
        session.scalars(
            select(LicenceTypeIssuer.department_code)
            .where(LicenceTypeIssuer.type_code == code)
            .order_by(LicenceTypeIssuer.department_code)
        )
    )


def may_issue(*, session: Session, type_code: str, department_code: str) -> bool:
    return (
        session.scalar(
            select(LicenceTypeIssuer.id).where(
                LicenceTypeIssuer.type_code == type_code,
                LicenceTypeIssuer.department_code == department_code,
            )
        )
        is not None
    )


def _definition(entry: LicenceTypeIn) -> dict:
    """What a version is: changing any of it makes a new version."""
    return {
        "name": entry.name,
        "name_en": entry.name_en,
        "holder_kind": entry.holder_kind.value,
        "fields": [f.model_dump(mode="json", exclude_none=True) for f in entry.fields],
        "validity": entry.validity.model_dump(mode="json", exclude_none=True),
        "dependents": list(entry.dependents),
        "layout_template": entry.layout_template.value,
    }


def _row_definition(row: LicenceType) -> dict:
    return {
        "name": row.name,
        "name_en": row.name_en,
        "holder_kind": row.holder_kind,
        "fields": row.fields,
        "validity": row.validity,
        "dependents": row.dependents,
        "layout_template": row.layout_template,
    }


def upsert(*, session: Session, entry: LicenceTypeIn) -> bool:
    """Create the type, or a new version when its definition changed.

    Older versions stay: licences issued under them keep their schema.
    """
    for issuer in entry.issuers:
        if departments.get(session=session, code=issuer) is None:
            raise UnknownReference(
                f"licence type {entry.code} ({entry.name}): issuer {issuer} is not a known department"
            )
    definition = _definition(entry)
    current = session.scalar(
        select(LicenceType)
        .where(LicenceType.code == entry.code, LicenceType.is_current.is_(True))
        .with_for_update()
    )
    changed = False
    if current is None or _row_definition(current) != definition:
        version = 1 if current is None else current.version + 1
        if current is not None:
            session.execute(
                update(LicenceType).where(LicenceType.id == current.id).values(is_current=False)
            )
        session.add(LicenceType(code=entry.code, version=version, is_current=True, **definition))
        changed = True
    return _set_issuers(session=session, code=entry.code, wanted=entry.issuers) or changed


def _set_issuers(*, session: Session, code: str, wanted: list[str]) -> bool:
    present = set(issuers(session=session, code=code))
    missing = [c for c in wanted if c not in present]
    extra = present - set(wanted)
    for department_code in missing:
        session.add(LicenceTypeIssuer(type_code=code, department_code=department_code))
    if extra:
        session.execute(
            delete(LicenceTypeIssuer).where(
                LicenceTypeIssuer.type_code == code, LicenceTypeIssuer.department_code.in_(extra)
            )
        )
    return bool(missing or extra)


def check_dependents(*, session: Session, codes: list[str]) -> None:
    for code in codes:
        row = get_or_raise(session=session, code=code)
        for dependent in row.dependents:
            if get_current(session=session, code=dependent) is None:
                raise UnknownReference(
                    f"licence type {code} ({row.name}): dependent type {dependent} is not a known licence type"
                )


def to_schema(row: LicenceType, *, session: Session) -> LicenceTypeOut:
    # Validated from the stored row like any other input (the columns are plain text and JSON).
    return LicenceTypeOut.model_validate(
        {
            "code": row.code,
            "name": row.name,
            "name_en": row.name_en,
            "holder_kind": row.holder_kind,
            "issuers": issuers(session=session, code=row.code),
            "fields": row.fields,
            "validity": row.validity,
            "dependents": row.dependents,
            "layout_template": row.layout_template,
            "version": row.version,
            "is_current": row.is_current,
        }
    )
