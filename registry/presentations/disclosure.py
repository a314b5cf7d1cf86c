"""What a redemption discloses of each licence: the face fields, masked by
the catalog's rules when the holder chose a masked disclosure (最小必要),
and the sealed record only with a full disclosure (the seal covers the whole
record, so it cannot travel with masked fields without revealing them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from catalog.masking import MaskRule, mask_value
from catalog.models import LicenceType
from catalog.service import licence_types
from registry.models import HolderCodeType
from registry.service.reads import LicenceView

FULL = "full"
MASKED = "masked"
DISCLOSURES = (FULL, MASKED)


def disclose(
    session: Session, *, view: LicenceView, disclosure: str,
    licence_type: LicenceType | licence_types.FaceRules | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The licence as the counter sees it, and the names of the fields
    disclosed (for the use log: `face.<key>`, `:masked` when masked).
    ``licence_type``, when the caller has it, must be the version the licence
    was issued under; otherwise it is read."""
    licence, version = view.licence, view.version
    if licence_type is None:
        licence_type = licence_types.get_or_raise(session=session, code=licence.type_code,
                                                  version=licence.type_version)
    elif (licence_type.code, licence_type.version) != (licence.type_code, licence.type_version):
        raise ValueError("disclose: the licence type given is not the one the licence was issued under")
    masked = disclosure == MASKED
    fields: dict[str, Any] = {}
    labels: dict[str, str] = {}
    logged: list[str] = []
    for spec in licence_type.fields:
        key = spec["key"]
        if key not in version.face:
            continue
        value = version.face[key]
        hide = masked and spec.get("sensitive") and spec.get("mask", MaskRule.none) != MaskRule.none
        fields[key] = mask_value(value, spec["mask"]) if hide else value
        labels[key] = spec.get("label", key)
        logged.append(f"face.{key}:masked" if hide else f"face.{key}")
    holder_masked = masked and licence.holder_code_type == HolderCodeType.CITIZEN_ID
    logged.append("holder_name:masked" if holder_masked else "holder_name")
    sealed = None
    if not masked:
        sealed = {"record": version.record, "seal_signature": view.signature.to_dict()}
        logged.append("sealed_record")
    return {
        "identifier": version.identifier,
        "type_code": licence.type_code,
        "type_name": licence_type.name,
        "holder_name": mask_value(licence.holder_name, MaskRule.name) if holder_masked else licence.holder_name,
        "status": licence.status,
        "valid_from": version.valid_from,
        "valid_until": version.valid_until,
        "fields": fields,
        "labels": labels,
        "sealed": sealed,
    }, logged
