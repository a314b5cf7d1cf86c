"""SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): issue, present, verify offline.

Standalone like the rest of signing: trust comes from the signed trust list
(signing/truststore.py), status from the Token Status List
(signing/statuslist.py). docs/sd-jwt-vc.md describes the credentials certhub
issues.
"""

from signing.sdjwt.core import (
    Disclosure,
    KeyBindingCheck,
    SdJwt,
    VerifiedSdJwt,
    issue_sd_jwt,
    verify_sd_jwt,
)
from signing.sdjwt.errors import SdJwtVerificationError
from signing.sdjwt.vc import (
    VC_TYPE,
    CredentialIssuer,
    VerifiedCredential,
    issue_sd_jwt_vc,
    vct_for,
    verify_sd_jwt_vc,
)

__all__ = [
    "VC_TYPE", "CredentialIssuer", "Disclosure", "KeyBindingCheck", "SdJwt", "SdJwtVerificationError",
    "VerifiedCredential", "VerifiedSdJwt", "issue_sd_jwt", "issue_sd_jwt_vc", "verify_sd_jwt", "verify_sd_jwt_vc",
    "vct_for",
]
