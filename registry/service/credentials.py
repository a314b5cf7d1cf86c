"""Licences as SD-JWT verifiable credentials (signing/sdjwt, docs/sd-jwt-vc.md).

A licence version's SD-JWT VC is derived from its sealed record when the
holder asks for it, as the static QR is: it is signed then, so it can bind
the key the holder's wallet presents, and it always carries the licence's
status-list entry, so a revocation after issue shows at every verifier.
Nothing is stored: the sealed record stays the one source of the content.

The issuing department signs: the key of the seal that sealed the version,
or, when that seal cannot sign now or its key is not ES256 (JOSE registers no
SM2 algorithm, so no SD-JWT VC verifier could check an SM2 signature), the
issuer's own default ES256 seal for the licence type — the rule of the signed
PDF (registry/service/pdfsigning.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from sqlalchemy.orm import Session

from catalog.models import LicenceType
from catalog.service import licence_types
from registry.errors import CredentialNotSignable, InvalidHolderKey
from registry.models import CHINA_TIME, Licence
from registry.service.authority import own_seal_with_algorithm
from registry.service.reads import LicenceView
from registry.service.statuslists import subject_uri
from signing.algorithms import Algorithm, PrivateKey
from signing.errors import InvalidInput, KeyNotFound, SealNotActive
from signing.jwk import canonical_public_jwk
from signing.sdjwt import VC_TYPE, issue_sd_jwt_vc, vct_for
from signing.sdjwt.vc import VISIBLE_CLAIMS
from signing.service.lifecycle import signing_seal_key
from storage.base import utcnow

# The sealed record's members that become selectively disclosable claims (the face fields join them),
# with the labels wallets show. Those left out say nothing a verifier needs: the type is the vct.
RECORD_CLAIMS: dict[str, tuple[str, str]] = {
    "identifier": ("证照编号", "Licence number"),
    "version": ("版本", "Version"),
    "licence_name": ("证照名称", "Licence name"),
    "holder_name": ("持证主体", "Holder"),
    "holder_code": ("持证主体代码", "Holder identifier"),
    "holder_code_type": ("持证主体代码类型", "Holder identifier type"),
    "issuer_name": ("发证机构", "Issuing authority"),
    "issuer_code": ("发证机构代码", "Issuing authority code"),
    "region_code": ("行政区划代码", "Region code"),
    "issue_date": ("发证日期", "Date of issue"),
    "valid_from": ("有效期起始日期", "Valid from"),
    "valid_until": ("有效期截止日期", "Valid until"),
}
_RESERVED = frozenset(RECORD_CLAIMS) | VISIBLE_CLAIMS


def credential(
    *, session: Session, view: LicenceView, registry_id: str, key_secret: bytes,
    holder_jwk: Mapping[str, Any] | None = None, now: datetime | None = None,
) -> str:
    """The version's SD-JWT VC (compact, every disclosure included), bound to `holder_jwk` when given."""
    moment = (now or utcnow()).replace(microsecond=0)
    licence, version = view.licence, view.version
    bound_key = _holder_key(holder_jwk) if holder_jwk is not None else None
    key = _signing_key(session=session, view=view, key_secret=key_secret, now=moment)
    return issue_sd_jwt_vc(
        key=key, registry_id=registry_id, type_code=licence.type_code, disclosable=claims(view),
        issued_at=moment, status_index=licence.status_index,
        status_uri=subject_uri(registry_id=registry_id, list_id=licence.status_list_id),
        valid_from=datetime.combine(version.valid_from, time(0), tzinfo=CHINA_TIME),
        expires_at=Licence.end_of_validity(version.valid_until), holder_jwk=bound_key,
    ).serialize()


def claims(view: LicenceView) -> dict[str, Any]:
    """The selectively disclosable claims: the sealed record's members and each face field."""
    record = view.version.record
    disclosable = {name: record[name] for name in RECORD_CLAIMS if record.get(name) is not None}
    face = view.version.face or {}
    clashing = sorted(_RESERVED & set(face))
    if clashing:
        raise CredentialNotSignable(f"face fields {clashing} share a name with a credential claim")
    return {**disclosable, **face}


def _holder_key(jwk: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return canonical_public_jwk(jwk)
    except InvalidInput as error:
        raise InvalidHolderKey(f"holder_jwk: {error}", field="holder_jwk") from None


def _signing_key(*, session: Session, view: LicenceView, key_secret: bytes, now: datetime) -> PrivateKey:
    """The sealing seal's ES256 key, else the issuer's own default ES256 seal's for the type."""
    try:
        _, key = signing_seal_key(session=session, es_id=view.version.es_id, key_secret=key_secret, now=now)
        if key.algorithm == Algorithm.ES256:
            return key
        first = f"seal {view.version.es_id} signs with {key.algorithm}"
    except (SealNotActive, KeyNotFound) as error:
        first = str(error)
    licence = view.licence
    seal = own_seal_with_algorithm(session=session, department_code=licence.issuer_code, type_code=licence.type_code,
                                   algorithm=str(Algorithm.ES256), now=now)
    if seal is None or seal.es_id == view.version.es_id:
        raise CredentialNotSignable(f"the {VC_TYPE} credential cannot be signed: {first}; the issuer holds no other "
                                    f"active {Algorithm.ES256} seal for this licence type")
    try:
        _, key = signing_seal_key(session=session, es_id=seal.es_id, key_secret=key_secret, now=now)
    except (SealNotActive, KeyNotFound) as error:
        raise CredentialNotSignable(f"the {VC_TYPE} credential cannot be signed: {error}") from error
    return key


def type_metadata(*, session: Session, registry_id: str, type_code: str) -> dict[str, Any]:
    """SD-JWT VC Type Metadata of a licence type's current version.

    SPEC: draft-ietf-oauth-sd-jwt-vc-14, "Type Metadata", "Display Metadata"
    (`locale` and `name`) and "Claim Metadata" (`path`, `display` with `locale`
    and `label`, `sd`, `mandatory`). Chinese first; English from the catalog's
    `name_en`/`label_en`, the Chinese text where the catalog has none.
    """
    licence_type = licence_types.get_or_raise(session=session, code=type_code)
    return {
        "vct": vct_for(registry_id=registry_id, type_code=licence_type.code),
        "name": licence_type.name,
        "display": [{"locale": "zh-CN", "name": licence_type.name},
                    {"locale": "en", "name": licence_type.name_en or licence_type.name}],
        "claims": [*_record_claim_metadata(), *_face_claim_metadata(licence_type)],
    }


def _claim(path: str, zh: str, en: str, *, mandatory: bool) -> dict[str, Any]:
    return {"path": [path], "display": [{"locale": "zh-CN", "label": zh}, {"locale": "en", "label": en}],
            "sd": "always", "mandatory": mandatory}


def _record_claim_metadata() -> list[dict[str, Any]]:
    optional = {"valid_until"}  # a permanent licence has no end date
    return [_claim(name, zh, en, mandatory=name not in optional) for name, (zh, en) in RECORD_CLAIMS.items()]


def _face_claim_metadata(licence_type: LicenceType) -> list[dict[str, Any]]:
    return [_claim(spec["key"], spec["label"], spec.get("label_en") or spec["label"], mandatory=bool(spec.get("required")))
            for spec in licence_type.fields]
