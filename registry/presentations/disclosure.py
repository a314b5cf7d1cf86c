"""What a redemption discloses of each licence: the face fields, masked by
the catalog's rules when the holder chose a masked disclosure (最小必要),
and the sealed record only with a full disclosure (the seal covers the whole
record, so it cannot travel with masked fields without revealing them)."""

from __future__ import annotations

from typing import Any

from catalog.service.licence_types import FaceRules
from identity.masking import MaskRule, mask_value
from registry.models import HolderCodeType
from registry.service.reads import ShownLicence
from signing.sealed import SealSignature

FULL = "full"
MASKED = "masked"
DISCLOSURES = (FULL, MASKED)


def disclose(licence: ShownLicence, *, disclosure: str, rules: FaceRules) -> tuple[dict[str, Any], list[str]]:
    """The licence as the counter sees it, and the names of the fields
    disclosed (for the use log: `face.<key>`, `:masked` when masked).
    ``rules`` must be those of the type version the licence was issued under."""
    if (rules.code, rules.version) != (licence.type_code, licence.type_version):
        raise ValueError("disclose: the licence type given is not the one the licence was issued under")
    masked = disclosure == MASKED
    fields: dict[str, Any] = {}
    labels: dict[str, str] = {}
    logged: list[str] = []
    for spec in rules.fields:
        key = spec["key"]
        if key not in licence.face:
            continue
        value = licence.face[key]
        hide = masked and spec.get("sensitive") and spec.get("mask", MaskRule.none) != MaskRule.none
        fields[key] = mask_value(value, spec["mask"]) if hide else value
        labels[key] = spec.get("label", key)
        logged.append(f"face.{key}:masked" if hide else f"face.{key}")
    holder_masked = masked and licence.holder_code_type == HolderCodeType.CITIZEN_ID
    logged.append("holder_name:masked" if holder_masked else "holder_name")
    sealed = None
    if not masked:
        sealed = {"record": licence.record, "seal_signature": SealSignature.from_json(licence.signature).to_dict()}
        logged.append("sealed_record")
    return {
        "identifier": licence.identifier,
        "type_code": licence.type_code,
        "type_name": rules.name,
        "holder_name": mask_value(licence.holder_name, MaskRule.name) if holder_masked else licence.holder_name,
        "status": licence.status,
        "valid_from": licence.valid_from,
        "valid_until": licence.valid_until,
        "fields": fields,
        "labels": labels,
        "sealed": sealed,
    }, logged
