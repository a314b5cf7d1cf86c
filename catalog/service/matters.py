"""Matters (事项): situations and the materials each needs, and what can
stand in for each material (a licence, a data check, a commitment, paper)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BindParameter, Exists, select
from sqlalchemy.orm import Session, selectinload

from catalog import snapshots
from catalog.errors import NotFound, UnknownMatter, UnknownReference
from catalog.models import Material, Matter, Situation
from catalog.schemas import MatterIn, MatterOut
from catalog.service import data_items, departments, licence_types

MAX_CODE = Matter.code.type.length  # what the catalog can hold; longer is no matter


def get(*, session: Session, code: str) -> Matter | None:
    return session.scalar(
        select(Matter)
        .where(Matter.code == code)
        .options(selectinload(Matter.materials), selectinload(Matter.situations))
    )


def exists(*, session: Session, code: str) -> bool:
    """Whether the catalog has this matter; no materials loaded (hot paths
    such as redemption only need to know the matter is real)."""
    return bool(session.scalar(select(exists_clause(code=code))))


def exists_kept(*, session: Session, code: str) -> bool:
    """``exists``, remembered for a few seconds once true (catalog.snapshots):
    for paths that check the matter on every request."""
    return snapshots.memo_for(session=session).get(
        ("matter", code), lambda: exists(session=session, code=code), keep=bool
    )


def require_existing(*, session: Session, codes: Sequence[object], kept: bool = False) -> None:
    """The one existence check of matters named from outside (agreements,
    mandates, consents, queries, plans): UnknownMatter for the first of
    ``codes`` the catalog does not have, a code that is not a string of at
    most the column's length included (fail closed). ``kept``: a true answer
    remembered for a few seconds will do (``exists_kept``), for paths that
    check their matter on every request; records that outlive the request
    are checked against the database as it is."""
    checked: list[str] = []
    for code in codes:
        if not isinstance(code, str) or not 0 < len(code) <= MAX_CODE:
            raise UnknownMatter(code)
        checked.append(code)
    if kept:
        missing = [code for code in checked if not exists_kept(session=session, code=code)]
    else:
        known = set(session.scalars(select(Matter.code).where(Matter.code.in_(set(checked)))))
        missing = [code for code in checked if code not in known]
    if missing:
        raise UnknownMatter(missing[0])


def exists_clause(*, code: str | BindParameter) -> Exists:
    """``exists`` as a column expression, to ride along in another query."""
    return select(Matter.id).where(Matter.code == code).exists()


def get_or_raise(*, session: Session, code: str) -> Matter:
    matter = get(session=session, code=code)
    if matter is None:
        raise NotFound(f"matter {code} not found")
    return matter


def list_(*, session: Session, department: str | None = None) -> list[Matter]:
    query = (
        select(Matter)
        .order_by(Matter.code)
        .options(selectinload(Matter.materials), selectinload(Matter.situations))
    )
    if department:
        query = query.where(Matter.department_code == department)
    return list(session.scalars(query))


def _check_references(*, session: Session, entry: MatterIn) -> None:
    where = f"matter {entry.code} ({entry.name})"
    if departments.get(session=session, code=entry.department) is None:
        raise UnknownReference(f"{where}: department {entry.department} is not a known department")
    for material in entry.materials:
        target = material.satisfied_by
        if target.kind == "licence_type" and (
            target.code is None or licence_types.get_current(session=session, code=target.code) is None
        ):
            raise UnknownReference(
                f"{where}: material {material.key!r} names licence type {target.code}, which is not in the catalog"
            )
        if target.kind == "data_item" and (
            target.code is None or data_items.get(session=session, code=target.code) is None
        ):
            raise UnknownReference(
                f"{where}: material {material.key!r} names data item {target.code}, which is not in the catalog"
            )


def upsert(*, session: Session, entry: MatterIn) -> bool:
    _check_references(session=session, entry=entry)
    matter = get(session=session, code=entry.code)
    if matter is not None and to_schema(matter) == entry:
        return False
    if matter is None:
        matter = Matter(code=entry.code, name=entry.name, department_code=entry.department)
        session.add(matter)
    else:
        matter.name = entry.name
        matter.department_code = entry.department
        matter.materials.clear()
        matter.situations.clear()
        session.flush()
    for position, material in enumerate(entry.materials):
        target = material.satisfied_by
        matter.materials.append(
            Material(
                position=position,
                key=material.key,
                name=material.name,
                required=material.required,
                satisfied_kind=target.kind,
                satisfied_code=target.code,
                commitment_template=target.template,
            )
        )
    for position, situation in enumerate(entry.situations):
        matter.situations.append(
            Situation(
                position=position,
                key=situation.key,
                name=situation.name,
                material_keys=list(situation.materials),
            )
        )
    return True


def to_schema(matter: Matter) -> MatterOut:
    materials = []
    for m in matter.materials:
        satisfied: dict = {"kind": m.satisfied_kind}
        if m.satisfied_code is not None:
            satisfied["code"] = m.satisfied_code
        if m.commitment_template is not None:
            satisfied["template"] = m.commitment_template
        materials.append({"key": m.key, "name": m.name, "required": m.required, "satisfied_by": satisfied})
    situations = [{"key": s.key, "name": s.name, "materials": s.material_keys} for s in matter.situations]
    # Validated from the stored row like any other input (the columns are plain text and JSON).
    return MatterOut.model_validate(
        {
            "code": matter.code,
            "name": matter.name,
            "department": matter.department_code,
            "materials": materials,
            "situations": situations,
        }
    )
