"""Departments: the government bodies that issue, provide and consume."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import InvalidCatalog, NotFound, UnknownReference
from catalog.models import Department
from catalog.schemas import DepartmentIn, DepartmentOut

_LEVEL_ORDER = {"national": 0, "province": 1, "city": 2, "county": 3}


def get(*, session: Session, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code))


def get_or_raise(*, session: Session, code: str) -> Department:
    department = get(session=session, code=code)
    if department is None:
        raise NotFound(f"department {code} not found")
    return department


def list_(*, session: Session, region: str | None = None, level: str | None = None) -> list[Department]:
    query = select(Department).order_by(Department.code)
    if region:
        query = query.where(Department.region_code == region)
    if level:
        query = query.where(Department.level == level)
    return list(session.scalars(query))


def upsert(*, session: Session, entry: DepartmentIn) -> bool:
    """Create or update one department; returns whether anything changed."""
    department = get(session=session, code=entry.code)
    values = {
        "name": entry.name,
        "region_code": entry.region,
        "level": entry.level.value,
        "parent_code": entry.parent,
    }
    if department is None:
        session.add(Department(code=entry.code, **values))
        return True
    changed = False
    for attr, value in values.items():
        if getattr(department, attr) != value:
            setattr(department, attr, value)
            changed = True
    return changed


def check_parents(*, session: Session, codes: list[str]) -> None:
    """Parents must exist, sit at the same or a higher level, and form no cycle."""
    for code in codes:
        department = get_or_raise(session=session, code=code)
        seen = {code}
        current = department
        while current.parent_code is not None:
            parent = get(session=session, code=current.parent_code)
            if parent is None:
                raise UnknownReference(
                    f"department {current.code} ({current.name}): parent {current.parent_code} is not a known department"
                )
            if _LEVEL_ORDER[parent.level] > _LEVEL_ORDER[current.level]:
                raise InvalidCatalog(
                    f"department {current.code} ({current.name}) is at level {current.level} "
                    f"but its parent {parent.code} is at the lower level {parent.level}"
                )
            if parent.code in seen:
                raise InvalidCatalog(f"department {code}: parent chain loops through {parent.code}")
            seen.add(parent.code)
            current = parent


def to_schema(department: Department) -> DepartmentOut:
    # Validated from the stored row like any other input (the columns are plain text and JSON).
    return DepartmentOut.model_validate(
        {
            "code": department.code,
            "name": department.name,
            "region": department.region_code,
            "level": department.level,
            "parent": department.parent_code,
        }
    )
