"""Lifecycle states shared by the database models and the trust list."""

from __future__ import annotations

from enum import StrEnum


class KeyPurpose(StrEnum):
    TRUST_ROOT = "trust_root"  # signs the registry's trust list
    SEAL_MAKER = "seal_maker"  # 制章者: signs GB/T 38540 seal structures
    SEAL = "seal"  # signs sealed records on behalf of one seal
    PRESENTATION = "presentation"  # signs the registry's dynamic 亮证 QR codes
    STATUS_LIST = "status_list"  # signs the registry's status list tokens
    # Certifies department keys for PDF signatures, when the trust root is not ES256 (signing/x509docs.py).
    DOCUMENT_ROOT = "document_root"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"  # rotated out: verifies what it signed before retired_at
    REVOKED = "revoked"  # nothing signed at/after compromised_at (or revoked_at) verifies


class SealStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class AuthorizationStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class SealType(StrEnum):
    """Common department seal kinds; other names are accepted as free text."""

    OFFICIAL = "公章"
    APPROVAL = "审批专用章"
    CONTRACT = "合同专用章"
    E_LICENCE = "电子证照专用章"
    FINANCE = "财务专用章"
    BUSINESS = "业务专用章"


ANY_LICENCE_TYPE = "*"
