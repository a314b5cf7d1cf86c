"""HTTP API of the catalog: public reads, admin-only writes, and the OAuth
token endpoint department clients start from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from catalog.deps import SessionDep, get_token_authority, require_scopes
from catalog.errors import InvalidCatalog, InvalidClient
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
)
from catalog.service import clients, data_items, departments, document, licence_types, matters
from catalog.tokens import Principal, TokenAuthority

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
oauth_router = APIRouter(prefix="/api/v1/oauth", tags=["auth"])

Admin = Annotated[Principal, Depends(require_scopes("catalog:admin"))]
_basic = HTTPBasic(auto_error=False)


def _same_code(path_code: str, body_code: str) -> None:
    if path_code != body_code:
        raise InvalidCatalog(f"code in the path ({path_code}) and in the body ({body_code}) differ")


@router.get("/departments", response_model=list[DepartmentOut], response_model_exclude_none=True)
def list_departments(session: SessionDep, region: str | None = None, level: str | None = None):
    return [departments.to_schema(d) for d in departments.list_(session=session, region=region, level=level)]


@router.get("/departments/{code}", response_model=DepartmentOut, response_model_exclude_none=True)
def get_department(code: str, session: SessionDep):
    return departments.to_schema(departments.get_or_raise(session=session, code=code))


@router.put("/departments/{code}", response_model=DepartmentOut, response_model_exclude_none=True)
def put_department(code: str, body: DepartmentIn, session: SessionDep, _: Admin):
    _same_code(code, body.code)
    document.load(session=session, document=CatalogDocument(departments=[body]))
    return departments.to_schema(departments.get_or_raise(session=session, code=code))


@router.get("/licence-types", response_model=list[LicenceTypeOut], response_model_exclude_none=True)
def list_licence_types(session: SessionDep, issuer: str | None = None):
    return [
        licence_types.to_schema(t, session=session)
        for t in licence_types.list_(session=session, issuer=issuer)
    ]


@router.get("/licence-types/{code}", response_model=LicenceTypeOut, response_model_exclude_none=True)
def get_licence_type(code: str, session: SessionDep, version: int | None = Query(default=None, ge=1)):
    row = licence_types.get_or_raise(session=session, code=code, version=version)
    return licence_types.to_schema(row, session=session)


@router.get("/licence-types/{code}/versions", response_model=list[LicenceTypeOut], response_model_exclude_none=True)
def list_licence_type_versions(code: str, session: SessionDep):
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
def list_data_items(session: SessionDep, provider: str | None = None):
    return [data_items.to_schema(i) for i in data_items.list_(session=session, provider=provider)]


# Resource codes contain a slash (前段码/后段码), hence the path converter.
@router.get("/data-items/{code:path}", response_model=DataItemOut, response_model_exclude_none=True)
def get_data_item(code: str, session: SessionDep):
    return data_items.to_schema(data_items.get_or_raise(session=session, code=code))


@router.put("/data-items/{code:path}", response_model=DataItemOut, response_model_exclude_none=True)
def put_data_item(code: str, body: DataItemIn, session: SessionDep, _: Admin):
    _same_code(code, body.code)
    document.load(session=session, document=CatalogDocument(data_items=[body]))
    return data_items.to_schema(data_items.get_or_raise(session=session, code=code))


@router.get("/matters", response_model=list[MatterOut], response_model_exclude_none=True)
def list_matters(session: SessionDep, department: str | None = None):
    return [matters.to_schema(m) for m in matters.list_(session=session, department=department)]


@router.get("/matters/{code}", response_model=MatterOut, response_model_exclude_none=True)
def get_matter(code: str, session: SessionDep):
    return matters.to_schema(matters.get_or_raise(session=session, code=code))


@router.put("/matters/{code}", response_model=MatterOut, response_model_exclude_none=True)
def put_matter(code: str, body: MatterIn, session: SessionDep, _: Admin):
    _same_code(code, body.code)
    document.load(session=session, document=CatalogDocument(matters=[body]))
    return matters.to_schema(matters.get_or_raise(session=session, code=code))


@router.post("/import")
def import_catalog(body: CatalogDocument, session: SessionDep, _: Admin) -> dict:
    """Apply a whole catalog document (the YAML file's content as JSON)."""
    report = document.load(session=session, document=body)
    return {
        "changed": dict(report.created_or_changed),
        "unchanged": dict(report.unchanged),
    }


@router.get("/export", response_class=PlainTextResponse)
def export_catalog(session: SessionDep) -> str:
    return document.to_yaml(document.export(session=session))


@oauth_router.post("/token")
def issue_token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str, Form(max_length=64)],
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=1000)] = None,
    basic: HTTPBasicCredentials | None = Depends(_basic),
    authority: TokenAuthority = Depends(get_token_authority),
) -> dict:
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4); the client
    authenticates with HTTP Basic or with form fields (§2.3.1)."""
    if grant_type != "client_credentials":
        raise HTTPException(status_code=400, detail={"error": "unsupported_grant_type",
                                                     "message": "only client_credentials is supported"})
    if basic is not None:
        client_id, client_secret = basic.username, basic.password
    if not client_id or not client_secret:
        raise InvalidClient("client_id and client_secret are required")
    client = clients.authenticate(session=session, client_id=client_id, client_secret=client_secret)
    granted = set(client.scopes)
    if scope:
        asked = set(scope.split())
        if not asked <= granted:
            raise HTTPException(status_code=400, detail={
                "error": "invalid_scope",
                "message": f"not granted to this client: {', '.join(sorted(asked - granted))}",
            })
        granted = asked
    token = authority.issue(client_id=client.client_id, department_code=client.department_code, scopes=sorted(granted))
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": authority.ttl_seconds,
        "scope": " ".join(sorted(granted)),
    }
