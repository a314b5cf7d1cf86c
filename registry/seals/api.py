"""HTTP API for electronic seals and the published trust list.

signing/ is a standalone library without HTTP or catalog knowledge; this
router adds who may do what (the seal's owning department, with the
seal:admin scope) and the department names from the catalog.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response

from catalog.errors import NotFound
from catalog.service import departments
from identity.deps import require_scopes
from identity.errors import Forbidden
from identity.tokens import Principal
from registry.config import RegistryConfig
from registry.errors import RegistryNotInitialised
from registry.seals.schemas import (
    AuthorizationCreate,
    AuthorizationRead,
    SealCreate,
    SealKeyRead,
    SealRead,
    SealRevoke,
    SealRotate,
    SealSuspend,
)
from signing import service as signing_service
from signing.errors import InvalidInput, KeyNotFound
from signing.models import CrossLevelAuthorization, Seal
from signing.statuses import SealStatus
from storage.params import RowId
from storage.sessions import SessionDep
from wiring import find_service

router = APIRouter(prefix="/api/v1/seals", tags=["seals"])
well_known_router = APIRouter(tags=["trust"])

SealAdmin = Annotated[Principal, Depends(require_scopes("seal:admin"))]
MAX_PICTURE_BYTES = 512 * 1024


def _key_secret(request: Request) -> bytes:
    return find_service(request, RegistryConfig).key_secret


def _to_read(seal: Seal) -> SealRead:
    return SealRead(
        es_id=seal.es_id,
        name=seal.name,
        seal_type=seal.seal_type,
        owner_department_code=seal.owner_department_code,
        licence_type_codes=list(seal.licence_type_codes),
        valid_from=seal.valid_from,
        valid_to=seal.valid_to,
        status=seal.status,
        keys=[
            SealKeyRead(kid=k.kid, algorithm=k.algorithm, status=k.status, created_at=k.created_at,
                        compromised_at=k.compromised_at)
            for k in seal.keys
        ],
        revoked_at=seal.revoked_at,
        compromised_at=seal.compromised_at,
        revocation_reason=seal.revocation_reason,
    )


def _authorization_read(row: CrossLevelAuthorization) -> AuthorizationRead:
    return AuthorizationRead(
        id=row.id,
        es_id=row.seal.es_id,
        grantee_department_code=row.grantee_department_code,
        licence_type_codes=list(row.licence_type_codes),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        status=row.status,
        revoked_at=row.revoked_at,
    )


def _owned(session, *, es_id: str, principal: Principal) -> Seal:
    seal = signing_service.get_seal_or_raise(session=session, es_id=es_id)
    if seal.owner_department_code != principal.department_code:
        raise Forbidden(f"seal {es_id} belongs to department {seal.owner_department_code}")
    return seal


def _decode_picture(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("picture_png_base64 is not valid base64") from None
    if len(data) > MAX_PICTURE_BYTES:
        raise InvalidInput(f"seal picture is larger than {MAX_PICTURE_BYTES} bytes")
    return data


@router.post("", response_model=SealRead, status_code=201)
def create_seal(body: SealCreate, request: Request, session: SessionDep, principal: SealAdmin):
    """Register a seal for the caller's department (the platform, holding
    catalog:admin too, may register seals for any department)."""
    owner = body.owner_department or principal.department_code
    if owner != principal.department_code and not principal.has("catalog:admin"):
        raise Forbidden("registering a seal for another department needs the catalog:admin scope")
    department = departments.get_or_raise(session=session, code=owner)
    seal = signing_service.create_seal(
        session=session,
        owner_department_code=owner,
        department_name=department.name,
        seal_type=body.seal_type,
        licence_type_codes=body.licence_type_codes,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        key_secret=_key_secret(request),
        algorithm=body.algorithm,
        name=body.name,
        picture_png=_decode_picture(body.picture_png_base64),
    )
    return _to_read(seal)


@router.get("", response_model=list[SealRead])
def list_seals(session: SessionDep, owner: str | None = None, status: SealStatus | None = None):
    return [_to_read(s) for s in signing_service.list_seals(session=session, owner_department_code=owner, status=status)]


@router.get("/{es_id}", response_model=SealRead)
def get_seal(es_id: str, session: SessionDep):
    return _to_read(signing_service.get_seal_or_raise(session=session, es_id=es_id))


@router.get("/{es_id}/picture.png", response_class=Response)
def get_picture(es_id: str, session: SessionDep) -> Response:
    seal = signing_service.get_seal_or_raise(session=session, es_id=es_id)
    return Response(seal.picture_png, media_type="image/png")


@router.get("/{es_id}/seal.esl", response_class=Response)
def get_seal_file(es_id: str, session: SessionDep) -> Response:
    """The maker-signed GB/T 38540-2020 SESeal structure (DER)."""
    seal = signing_service.get_seal_or_raise(session=session, es_id=es_id)
    return Response(
        seal.der,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{es_id}.esl"'},
    )


@router.put("/{es_id}/picture.png", response_model=SealRead)
def upload_picture(
    es_id: str,
    request: Request,
    session: SessionDep,
    principal: SealAdmin,
    picture: Annotated[bytes, Body(media_type="image/png")],
):
    _owned(session, es_id=es_id, principal=principal)
    if len(picture) > MAX_PICTURE_BYTES:
        raise InvalidInput(f"seal picture is larger than {MAX_PICTURE_BYTES} bytes")
    seal = signing_service.replace_picture(session=session, es_id=es_id, picture_png=picture, key_secret=_key_secret(request))
    return _to_read(seal)


@router.post("/{es_id}/rotate", response_model=SealRead)
def rotate(es_id: str, body: SealRotate, request: Request, session: SessionDep, principal: SealAdmin):
    _owned(session, es_id=es_id, principal=principal)
    signing_service.rotate_key(session=session, es_id=es_id, key_secret=_key_secret(request), algorithm=body.algorithm)
    return _to_read(signing_service.get_seal_or_raise(session=session, es_id=es_id))


@router.post("/{es_id}/suspend", response_model=SealRead)
def suspend(es_id: str, body: SealSuspend, session: SessionDep, principal: SealAdmin):
    _owned(session, es_id=es_id, principal=principal)
    return _to_read(signing_service.suspend_seal(session=session, es_id=es_id, reason=body.reason))


@router.post("/{es_id}/resume", response_model=SealRead)
def resume(es_id: str, session: SessionDep, principal: SealAdmin):
    _owned(session, es_id=es_id, principal=principal)
    return _to_read(signing_service.resume_seal(session=session, es_id=es_id))


@router.post("/{es_id}/revoke", response_model=SealRead)
def revoke(es_id: str, body: SealRevoke, session: SessionDep, principal: SealAdmin):
    _owned(session, es_id=es_id, principal=principal)
    seal = signing_service.revoke_seal(session=session, es_id=es_id, reason=body.reason, compromised_at=body.compromised_at)
    return _to_read(seal)


@router.post("/{es_id}/authorizations", response_model=AuthorizationRead, status_code=201)
def authorize(es_id: str, body: AuthorizationCreate, session: SessionDep, principal: SealAdmin):
    """跨层级签章: let another department sign with this seal for listed types."""
    _owned(session, es_id=es_id, principal=principal)
    departments.get_or_raise(session=session, code=body.grantee_department)
    row = signing_service.authorize_cross_level(
        session=session,
        es_id=es_id,
        grantor_department_code=principal.department_code,
        grantee_department_code=body.grantee_department,
        licence_type_codes=body.licence_type_codes,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    return _authorization_read(row)


@router.get("/{es_id}/authorizations", response_model=list[AuthorizationRead])
def list_authorizations(es_id: str, session: SessionDep):
    seal = signing_service.get_seal_or_raise(session=session, es_id=es_id)
    return [_authorization_read(r) for r in signing_service.list_authorizations(session=session, es_id=seal.es_id)]


@router.post("/{es_id}/authorizations/{authorization_id}/revoke", response_model=AuthorizationRead)
def revoke_authorization(es_id: str, authorization_id: RowId, session: SessionDep, principal: SealAdmin):
    _owned(session, es_id=es_id, principal=principal)
    existing = session.get(CrossLevelAuthorization, authorization_id)
    if existing is None or existing.seal.es_id != es_id:
        raise NotFound(f"seal {es_id} has no authorization {authorization_id}")
    row = signing_service.revoke_authorization(session=session, authorization_id=authorization_id)
    return _authorization_read(row)


@well_known_router.get("/.well-known/certhub/trust-list", response_class=Response)
def trust_list(request: Request, session: SessionDep) -> Response:
    """The registry's signed trust list: keys and seals any verifier may trust."""
    try:
        signing_service.get_trust_root_key_or_raise(session=session)
    except KeyNotFound:
        raise RegistryNotInitialised("this registry has no trust-root key yet; run `certhub signing init`") from None
    body = signing_service.trust_list_json(
        session=session, registry_id=find_service(request, RegistryConfig).registry_id, key_secret=_key_secret(request)
    )
    return Response(body, media_type="application/json", headers={"Cache-Control": "public, max-age=300"})
