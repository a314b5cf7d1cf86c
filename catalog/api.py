"""HTTP API of the catalog: public reads and admin-only writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from catalog.errors import InvalidCatalog
from catalog.schemas import (
    CatalogDocument,
    DataItemIn,
    DataItemOut,
    DepartmentIn,
    DepartmentOut,
    LicenceTypeIn,
    LicenceTypeOut,
    MatterIn,
    MatterOut,
    RelyingPartyIn,
    RelyingPartyOut,
)
from catalog.service import data_items, departments, document, licence_types, matters, relying_parties
from identity.deps import require_scopes
from identity.tokens import Principal
from storage.params import MAX_SQL_INTEGER
from storage.sessions import ReadSessionDep, SessionDep

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])

Admin = Annotated[Principal, Depends(require_scopes("catalog:admin"))]


def _same_code(path_code: str, body_code: str) -> None:
    if path_code != body_code:
        raise InvalidCatalog(f"code in the path ({path_code}) and in the body ({body_code}) differ")


@router.get("/departments", response_model=list[DepartmentOut], response_model_exclude_none=True)
def list_departments(session: ReadSessionDep, region: str | None = None, level: str | None = None):
    return [departments.to_schema(d) for d in departments.list_(session=session, region=region, level=level)]


@router.get("/departments/{code}", response_model=DepartmentOut, response_model_exclude_none=True)
def get_department(code: str, session: ReadSessionDep):
    return departments.to_schema(departments.get_or_raise(session=session, code=code))


@router.put("/departments/{code}", response_model=DepartmentOut, response_model_exclude_none=True)
def put_department(code: str, body: DepartmentIn, session: SessionDep, _: Admin):
    _same_code(code, body.code)
    document.load(session=session, document=CatalogDocument(departments=[body]))
    return departments.to_schema(departments.get_or_raise(session=session, code=code))


@router.get("/licence-types", response_model=list[LicenceTypeOut], response_model_exclude_none=True)
def list_licence_types(session: ReadSessionDep, issuer: str | None = None):
    return [
        licence_types.to_schema(t, session=session)
        for t in licence_types.list_(session=session, issuer=issuer)
    ]


@router.get("/licence-types/{code}", response_model=LicenceTypeOut, response_model_exclude_none=True)
def get_licence_type(code: str, session: ReadSessionDep, version: int | None = Query(default=None, ge=1, le=MAX_SQL_INTEGER)):
    row = licence_types.get_or_raise(session=session, code=code, version=version)
    return licence_types.to_schema(row, session=session)


@router.get("/licence-types/{code}/versions", response_model=list[LicenceTypeOut], response_model_exclude_none=True)
def list_licence_type_versions(code: str, session: ReadSessionDep):
    rows = licence_types.versions(session=session, code=code)
    if not rows:
        licence_types.get_or_raise(session=session, code=code)
    return [licence_types.to_schema(r, session=session) for r in rows]


@router.put("/licence-types/{code}", response_model=LicenceTypeOut, response_model_exclude_none=True)
def put_licence_type(code: str, body: LicenceTypeIn, session: SessionDep, _: Admin):
    _same_code(code, body.code)
    document.load(session=session, document=CatalogDocument(licence_types=[body]))
    return licence_types.to_schema(licence_types.get_or_raise(session=session, code=code), session=session)


@router.get("/data-items", response_model=list[DataItemOut], response_model_exclude_none=True)
def list_data_items(session: ReadSessionDep, provider: str | None = None):
    return [data_items.to_schema(i) for i in data_items.list_(session=session, provider=provider)]


# Resource codes contain a slash (前段码/后段码), hence the path converter.
@router.get("/data-items/{code:path}", response_model=DataItemOut, response_model_exclude_none=True)
def get_data_item(code: str, session: ReadSessionDep):
    return data_items.to_schema(data_items.get_or_raise(session=session, code=code))


@router.put("/data-items/{code:path}", response_model=DataItemOut, response_model_exclude_none=True)
def put_data_item(code: str, body: DataItemIn, session: SessionDep, _: Admin):
    _same_code(code, body.code)
    document.load(session=session, document=CatalogDocument(data_items=[body]))
    return data_items.to_schema(data_items.get_or_raise(session=session, code=code))


@router.get("/matters", response_model=list[MatterOut], response_model_exclude_none=True)
def list_matters(session: ReadSessionDep, department: str | None = None):
    return [matters.to_schema(m) for m in matters.list_(session=session, department=department)]


@router.get("/matters/{code}", response_model=MatterOut, response_model_exclude_none=True)
def get_matter(code: str, session: ReadSessionDep):
    return matters.to_schema(matters.get_or_raise(session=session, code=code))


@router.put("/matters/{code}", response_model=MatterOut, response_model_exclude_none=True)
def put_matter(code: str, body: MatterIn, session: SessionDep, _: Admin):
    _same_code(code, body.code)
    document.load(session=session, document=CatalogDocument(matters=[body]))
    return matters.to_schema(matters.get_or_raise(session=session, code=code))


@router.get("/relying-parties/{client_id}", response_model=RelyingPartyOut)
def get_relying_party(client_id: str, session: SessionDep, _: Admin):
    return relying_parties.to_schema(relying_parties.get_or_raise(session=session, client_id=client_id))


@router.put("/relying-parties/{client_id}", response_model=RelyingPartyOut)
def put_relying_party(client_id: str, body: RelyingPartyIn, session: SessionDep, _: Admin):
    """Register (or update) a relying party: its API client, name, stated purpose and the claims
    it may ask holders' wallets for, per licence type (docs/oid4vp.md)."""
    _same_code(client_id, body.client_id)
    return relying_parties.to_schema(relying_parties.upsert(session=session, entry=body))


@router.post("/import")
def import_catalog(body: CatalogDocument, session: SessionDep, _: Admin) -> dict:
    """Apply a whole catalog document (the YAML file's content as JSON)."""
    report = document.load(session=session, document=body)
    return {
        "changed": dict(report.created_or_changed),
        "unchanged": dict(report.unchanged),
    }


@router.get("/export", response_class=PlainTextResponse)
def export_catalog(session: ReadSessionDep) -> str:
    return document.to_yaml(document.export(session=session))
