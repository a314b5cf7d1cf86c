"""Signing's service layer: functions taking an explicit session and keyword arguments.

They flush but never commit; the caller's unit of work commits.
"""

from signing.service.authorization import authorize_cross_level, list_authorizations, revoke_authorization
from signing.service.keys import (
    create_seal_maker,
    create_trust_root_key,
    get_seal_maker_or_raise,
    get_trust_root_key_or_raise,
)
from signing.service.lifecycle import replace_picture, resume_seal, revoke_key, revoke_seal, rotate_key, suspend_seal
from signing.service.ofd import seal_ofd_signer
from signing.service.presentation import ensure_presentation_key, presentation_qr_signer, seal_qr_signer
from signing.service.sealing import sign_record
from signing.service.seals import create_seal, get_seal, get_seal_or_raise, list_seals
from signing.service.statuslist_key import rotate_status_list_key, status_list_signing_key
from signing.service.trust import build_trust_list, trust_list_content, trust_list_json

__all__ = [
    "authorize_cross_level", "build_trust_list", "create_seal", "create_seal_maker", "create_trust_root_key",
    "ensure_presentation_key", "presentation_qr_signer", "seal_qr_signer",
    "get_seal", "get_seal_maker_or_raise", "get_seal_or_raise", "get_trust_root_key_or_raise",
    "list_authorizations", "list_seals", "seal_ofd_signer", "replace_picture", "resume_seal", "revoke_authorization", "revoke_key", "revoke_seal",
    "rotate_key", "rotate_status_list_key", "sign_record", "status_list_signing_key", "suspend_seal",
    "trust_list_content", "trust_list_json",
]
