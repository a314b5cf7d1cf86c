"""What a redemption discloses of each licence: the face fields, masked by
the catalog's rules when the holder chose a masked disclosure (最小必要),
and the sealed record only with a full disclosure (the seal covers the whole
record, so it cannot travel with masked fields without revealing them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from catalog.masking import MaskRule, mask_value
from catalog.service.licence_types import FaceRules
from registry.identifiers import LicenceIdentifier
from registry.models import HolderCodeType, Licence, LicenceVersion
from signing.sealed import SealSignature

FULL = "full"
MASKED = "masked"
DISCLOSURES = (FULL, MASKED)


@dataclass(frozen=True)
class ShownLicence:
    """One licence version as a counter may be shown it, with what deciding
    whether it may be shown needs (status, validity, superseded), as plain
    values: read on every redemption, never changed by it."""

    identifier: str
    type_code: str
    type_version: int
    holder_name: str
    holder_code: str
    holder_code_type: str
    status: str
    licence_valid_until: date | None  # the licence's own end of validity, as it is now
    valid_from: date  # the version's, as sealed
    valid_until: date | None
    superseded: bool
    face: dict[str, Any]
    record: dict[str, Any]
    signature: str  # SealSignature JSON


# Only the columns a redemption uses, in one round trip, built once: the ORM
# read of both rows cost more than the rest of the disclosure.
_SHOWN = (
    select(LicenceVersion.identifier, Licence.type_code, Licence.type_version, Licence.holder_name,
           Licence.holder_code, Licence.holder_code_type, Licence.status,
           Licence.valid_until.label("licence_valid_until"), LicenceVersion.valid_from, LicenceVersion.valid_until,
           LicenceVersion.superseded, LicenceVersion.face, LicenceVersion.record, LicenceVersion.signature)
    .join(LicenceVersion, LicenceVersion.licence_id == Licence.id)
    .where(Licence.base_identifier == bindparam("base"), LicenceVersion.version == bindparam("version"))
)


def read_shown(session: Session, *, identifier: str) -> ShownLicence | None:
    """The version the identifier names, or None (InvalidIdentifier when it
    is not an identifier at all). No access check: redemption decides."""
    parsed = LicenceIdentifier.parse(identifier)
    row = session.connection().execute(_SHOWN, {"base": parsed.base, "version": parsed.version}).one_or_none()
    return None if row is None else ShownLicence(**row._mapping)


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
