"""Load and export the whole catalog as one YAML document.

Loading is idempotent: entries are matched by code and only real changes are
written, so loading the same file twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from catalog.errors import DuplicateEntry, InvalidCatalog, UnknownReference
from catalog.schemas import CatalogDocument, DepartmentIn, LicenceTypeIn, LicenceTypeOut
from catalog.service import data_items, departments, licence_types, matters

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


@dataclass
class LoadReport:
    created_or_changed: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return sum(self.created_or_changed.values()) > 0

    def summary(self) -> str:
        parts = []
        for section in ("departments", "licence_types", "data_items", "matters"):
            parts.append(
                f"{section}: {self.created_or_changed[section]} changed, {self.unchanged[section]} unchanged"
            )
        return "; ".join(parts)


def parse_yaml(text: str | bytes) -> CatalogDocument:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InvalidCatalog(f"catalog document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidCatalog(f"catalog file is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidCatalog("catalog file must be a mapping with departments, licence_types, data_items, matters")
    return parse_mapping(raw)


def parse_mapping(raw: dict) -> CatalogDocument:
    try:
        return CatalogDocument.model_validate(raw)
    except ValidationError as exc:
        raise InvalidCatalog(_describe(exc, raw)) from None


def _describe(exc: ValidationError, raw: dict) -> str:
    lines = []
    for error in exc.errors()[:20]:
        lines.append(f"{_where(error['loc'], raw)}: {error['msg']}")
    more = exc.error_count() - len(lines)
    if more > 0:
        lines.append(f"... and {more} more")
    return "invalid catalog:\n  " + "\n  ".join(lines)


def _where(loc: tuple, raw: object) -> str:
    """Render an error location, naming the entry's code so it can be found."""
    parts: list[str] = []
    node = raw
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            node = node[step]
            label = node.get("code") or node.get("key") if isinstance(node, dict) else None
            parts.append(f"[{step}]" + (f"({label})" if label else ""))
        else:
            node = node.get(step) if isinstance(node, dict) else None
            parts.append(("." if parts else "") + str(step))
    return "".join(parts) or "document"


def _duplicates(document: CatalogDocument) -> None:
    for section in ("departments", "licence_types", "data_items", "matters"):
        counts = Counter(entry.code for entry in getattr(document, section))
        repeated = sorted(code for code, n in counts.items() if n > 1)
        if repeated:
            raise DuplicateEntry(f"{section}: code {repeated[0]} appears more than once")


def _parents_first(*, session: Session, entries: list[DepartmentIn]) -> list[DepartmentIn]:
    """Order departments so each parent is written before its children (the
    parent is a foreign key), refusing parents that exist nowhere."""
    by_code = {entry.code: entry for entry in entries}
    ordered: list[DepartmentIn] = []
    placed: set[str] = set()

    def place(entry: DepartmentIn, chain: tuple[str, ...]) -> None:
        if entry.code in placed:
            return
        if entry.code in chain:
            raise InvalidCatalog(f"department {entry.code}: parent chain loops")
        parent = entry.parent
        if parent is not None:
            if parent in by_code:
                place(by_code[parent], chain + (entry.code,))
            elif departments.get(session=session, code=parent) is None:
                raise UnknownReference(
                    f"department {entry.code} ({entry.name}): parent {parent} is not a known department"
                )
        placed.add(entry.code)
        ordered.append(entry)

    for entry in entries:
        place(entry, ())
    return ordered


def load(*, session: Session, document: CatalogDocument) -> LoadReport:
    """Apply a catalog document. References are checked against the document
    and what the database already holds; nothing is half-applied because the
    caller commits only when this returns."""
    _duplicates(document)
    report = LoadReport()

    def count(section: str, changed: bool) -> None:
        (report.created_or_changed if changed else report.unchanged)[section] += 1

    for department in _parents_first(session=session, entries=document.departments):
        count("departments", departments.upsert(session=session, entry=department))
    session.flush()
    departments.check_parents(session=session, codes=[d.code for d in document.departments])
    for licence_type in document.licence_types:
        count("licence_types", licence_types.upsert(session=session, entry=licence_type))
    session.flush()
    licence_types.check_dependents(session=session, codes=[t.code for t in document.licence_types])
    for data_item in document.data_items:
        count("data_items", data_items.upsert(session=session, entry=data_item))
    session.flush()
    for matter in document.matters:
        count("matters", matters.upsert(session=session, entry=matter))
    session.flush()
    return report


def export(*, session: Session) -> CatalogDocument:
    return CatalogDocument(
        departments=[departments.to_schema(d) for d in departments.list_(session=session)],
        licence_types=[
            _as_input(licence_types.to_schema(t, session=session))
            for t in licence_types.list_(session=session)
        ],
        data_items=[data_items.to_schema(i) for i in data_items.list_(session=session)],
        matters=[matters.to_schema(m) for m in matters.list_(session=session)],
    )


def _as_input(out: LicenceTypeOut) -> LicenceTypeIn:
    return LicenceTypeIn.model_validate(out.model_dump(exclude={"version", "is_current"}))


def to_yaml(document: CatalogDocument) -> str:
    data = document.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
