"""Is an OFD's 签章 by a seal the trust list vouches for?

`verify_ofd` checks that the document is what a seal signed; this checks
that the seal and its key are ones a registry's signed trust list names,
and were usable when the document says it was signed (`timeInfo`): the
same rules as a licence QR's seal key (signing/qr/verify.py, steps 9-10).
`timeInfo` is the signer's own claim (no RFC 3161 timestamp is written), so
a key compromised later counts from its compromise time, as for QR codes.
"""

from __future__ import annotations

from signing.algorithms import kid_for_spki
from signing.errors import VerificationError
from signing.ofd.verify import OfdSignatureReport
from signing.statuses import KeyPurpose, SealStatus
from signing.truststore import ResolvedKey, TrustStore


def _untrusted(message: str) -> VerificationError:
    return VerificationError("unknown_key", message)


def trusted_seal_key(signature: OfdSignatureReport, *, trust_store: TrustStore) -> ResolvedKey:
    """The trust list's entry for the signature's seal key; VerificationError when none vouches for it."""
    kid = kid_for_spki(signature.signer_spki)
    candidates = [resolved for resolved in trust_store.resolve_kid(kid)
                  if resolved.key.public_key.spki_der == signature.signer_spki]
    if not candidates:
        raise _untrusted(f"no trusted key is the signer's (kid {kid})")
    resolved = candidates[0]
    key, moment = resolved.key, signature.signed_at
    if key.purpose != KeyPurpose.SEAL or key.es_id != signature.es_id:
        raise _untrusted(f"key {kid} is not a key of seal {signature.es_id} in the trust list")
    unusable_from = key.unusable_from()
    if unusable_from is not None and moment >= unusable_from:
        raise VerificationError("key_revoked", f"key {kid} was {key.status} at {unusable_from.isoformat()}")
    if moment < key.valid_from:
        raise _untrusted(f"key {kid} did not exist yet when the document was signed")
    seal = resolved.trust_list.seal(signature.es_id)
    if seal is None:
        raise _untrusted(f"seal {signature.es_id} is not in the trust list")
    revoked_from = seal.revoked_from()
    if revoked_from is not None and moment >= revoked_from:
        raise VerificationError("seal_revoked", f"seal {seal.es_id} was revoked at {revoked_from.isoformat()}")
    if seal.status == SealStatus.SUSPENDED or any(s.covers(moment) for s in seal.suspensions):
        raise VerificationError("seal_suspended", f"seal {seal.es_id} is or was suspended")
    if not seal.valid_from <= moment <= seal.valid_to:
        raise VerificationError("seal_expired", f"seal {seal.es_id} was outside its validity")
    return resolved
