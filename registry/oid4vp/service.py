"""The verifier's use cases: make an authorization request, answer the wallet's response,
hand the relying party its result.

SPEC: OpenID for Verifiable Presentations 1.0 — §5 (authorization request), §5.7 and §5.10
(request by reference for another device), §6 (DCQL), §8.1 (vp_token: one array of
presentations per credential query id), §8.2 (response mode direct_post to `response_uri`),
§14.1 (nonce and audience against replay), Appendix B.3 (SD-JWT VC: the KB-JWT's `aud` is the
client_id, its `nonce` the request's).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.access import UseLog, UseRecord
from catalog.models import Matter, RelyingParty
from catalog.service import departments, licence_types, matters, relying_parties
from registry.identifiers import LicenceIdentifier
from registry.models import Licence
from registry.oid4vp.dcql import CredentialQuery, DcqlQuery
from registry.oid4vp.errors import ClaimsNotAllowed, InvalidQuery, ResponseRefused, VpRequestNotFound
from registry.oid4vp.models import RequestStatus, VpRequest
from registry.presentations.public import own_status_list
from registry.presentations.trust import RegistryTrust
from signing.sdjwt import VC_TYPE, SdJwtVerificationError, VerifiedCredential, vct_for, verify_sd_jwt_vc
from signing.sdjwt.vc import VCT_PATH
from signing.truststore import TrustStore
from storage.units import write_lock

REQUEST_TTL = timedelta(minutes=5)
MAX_VP_TOKEN_CHARS = 1024 * 1024
RESPONSE_TYPE = "vp_token"
RESPONSE_MODE = "direct_post"


@dataclass(frozen=True)
class Endpoints:
    """Where the wallet finds the request and sends its response (under the registry's public URL)."""

    registry_id: str

    def request_uri(self, request_id: str) -> str:
        return f"{self.registry_id.rstrip('/')}/oid4vp/requests/{request_id}"

    def response_uri(self, request_id: str) -> str:
        return f"{self.registry_id.rstrip('/')}/oid4vp/responses/{request_id}"


def create_request(
    *, session: Session, party: RelyingParty, query: DcqlQuery, registry_id: str, now: datetime,
    matter_code: str | None = None,
) -> VpRequest:
    """A pending request for exactly the claims asked, each within the party's registration."""
    for credential in query.credentials:
        for vct in credential.vct_values:
            allowed = relying_parties.allowed_claims(party, type_code=_own_type_code(vct, registry_id=registry_id))
            beyond = credential.claim_names - allowed
            if not allowed or beyond:
                raise ClaimsNotAllowed(f"{party.name} is not registered for {sorted(beyond) or vct}")
    return _new_request(session=session, client_id=party.client_id, department_code=party.department_code,
                        purpose=party.purpose, matter_code=matter_code, query=query, now=now)


def create_counter_request(
    *, session: Session, client_id: str, department_code: str, matter_code: str, purpose: str, registry_id: str,
    now: datetime, situation: str | None = None,
) -> VpRequest:
    """A counter's request for the matter's fields: for each licence the matter requires (in the
    situation chosen: 本人申请, 委托代办 ...; the first when none is named), the required face
    fields of its type (the catalog's list, nothing more), as selective disclosures that keep
    the issuer's signature. The counter's department asks; the matter bounds what."""
    matter = matters.get_or_raise(session=session, code=matter_code)
    needed = _materials_needed(matter, situation=situation)
    queries = []
    for material in matter.materials:
        if material.key not in needed or material.satisfied_kind != "licence_type" or material.satisfied_code is None:
            continue
        licence_type = licence_types.get_or_raise(session=session, code=material.satisfied_code)
        names = frozenset(spec["key"] for spec in licence_type.fields if spec.get("required"))
        if names:
            queries.append(CredentialQuery(id=material.key, claim_names=names,
                                           vct_values=(vct_for(registry_id=registry_id, type_code=licence_type.code),)))
    if not queries:
        raise InvalidQuery(f"matter {matter_code} requires no licence fields a wallet could present")
    return _new_request(session=session, client_id=client_id, department_code=department_code, purpose=purpose,
                        matter_code=matter_code, query=DcqlQuery(credentials=tuple(queries)), now=now)


def _materials_needed(matter: Matter, *, situation: str | None) -> set[str]:
    if not matter.situations:
        return {m.key for m in matter.materials if m.required}
    chosen = next((s for s in matter.situations if s.key == situation), None) if situation else matter.situations[0]
    if chosen is None:
        raise InvalidQuery(f"matter {matter.code} has no situation {situation!r}")
    return set(chosen.material_keys)


def _new_request(*, session: Session, client_id: str, department_code: str, purpose: str, matter_code: str | None,
                 query: DcqlQuery, now: datetime) -> VpRequest:
    row = VpRequest(
        id=secrets.token_urlsafe(32), client_id=client_id, department_code=department_code, purpose=purpose,
        matter_code=matter_code, dcql_query=query.to_json(), nonce=secrets.token_urlsafe(32),
        state=secrets.token_urlsafe(32), created_at=now, expires_at=now + REQUEST_TTL, status=RequestStatus.PENDING,
    )
    session.add(row)
    session.flush()
    return row


def _own_type_code(vct: str, *, registry_id: str) -> str:
    prefix = registry_id.rstrip("/") + VCT_PATH
    if not vct.startswith(prefix):
        raise ClaimsNotAllowed(f"{vct} is not a credential type this registry issues")
    return vct[len(prefix):]


def authorization_request(row: VpRequest, *, verifier_name: str, endpoints: Endpoints) -> dict[str, Any]:
    """SPEC: OpenID4VP 1.0 §5.1-5.2 — the parameters the wallet acts on. `client_id` is the party's
    client id as registered with certhub (a pre-registered client, §5.9.2), or a counter's caller id;
    `client_metadata` carries the verifier's name and the purpose for the wallet to show (RFC 7591
    `client_name`)."""
    return {
        "client_id": row.client_id,
        "response_type": RESPONSE_TYPE,
        "response_mode": RESPONSE_MODE,
        "response_uri": endpoints.response_uri(row.id),
        "nonce": row.nonce,
        "state": row.state,
        "dcql_query": row.dcql_query,
        "client_metadata": {
            "client_name": verifier_name,
            "purpose": row.purpose,
            "vp_formats_supported": {VC_TYPE: {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}},
        },
    }


def verifier_name(*, session: Session, row: VpRequest) -> str:
    """Who asks, as the holder is shown it: the relying party's registered name, or the counter's department."""
    party = relying_parties.get(session=session, client_id=row.client_id)
    if party is not None:
        return party.name
    department = departments.get(session=session, code=row.department_code)
    return department.name if department is not None else row.department_code


def pending_or_raise(*, session: Session, request_id: str, now: datetime) -> VpRequest:
    """A request a wallet may still answer (unknown, answered and expired ones look alike)."""
    row = session.get(VpRequest, request_id)
    if row is None or row.status != RequestStatus.PENDING or now >= row.expires_at:
        raise VpRequestNotFound("no such open presentation request")
    return row


def own_or_raise(*, session: Session, request_id: str, client_id: str) -> VpRequest:
    """The party's own request; another's answers as if there were none."""
    row = session.get(VpRequest, request_id)
    if row is None or row.client_id != client_id:
        raise VpRequestNotFound("no such presentation request")
    return row


def respond(
    *, session: Session, request_id: str, vp_token: str, state: str | None, trust: RegistryTrust,
    registry_id: str, use_log: UseLog, now: datetime,
) -> VpRequest:
    """Answer a request once: verified (result kept, the use logged) or refused (the reason kept).

    A request already answered raises ResponseRefused("replayed") and is left as it was; any other
    refusal is kept on the row, so the request cannot be tried again with another presentation.
    1. The request is open (locked: two responses race for it; one wins).
    2. `state` is the request's.
    3. `vp_token` is a JSON object with exactly the query's credential ids, one presentation each.
    4. Each presentation verifies (signing/sdjwt: issuer via the trust list, disclosures, KB-JWT
       for this client_id and nonce, times, status), is of a requested type, and discloses
       exactly the claims requested.
    5. Each is a use in the authorized-use log, in this transaction.
    """
    # The trust list first, before this transaction takes the write lock: building it may publish
    # a new list in a session of its own, which on SQLite would wait for this one's lock.
    store = trust.current(now=now).store
    write_lock(session=session)
    row = session.scalar(select(VpRequest).where(VpRequest.id == request_id).with_for_update())  # 1.
    if row is None:
        raise VpRequestNotFound("no such presentation request")
    if row.status != RequestStatus.PENDING:
        raise ResponseRefused("replayed", "this request has been answered already")
    try:
        if now >= row.expires_at:
            raise ResponseRefused("request_expired", "the presentation request has expired")
        if state != row.state:  # 2.
            raise ResponseRefused("state_mismatch", "the response does not carry the request's state")
        queries = DcqlQuery.from_json(row.dcql_query).credentials
        presentations = _presentations(vp_token, queries=queries)  # 3.
        verified = {query.id: _verify(presentations[query.id], query=query, row=row, session=session,
                                      store=store, registry_id=registry_id, now=now) for query in queries}  # 4.
    except ResponseRefused as refusal:
        row.status, row.error, row.answered_at = RequestStatus.REFUSED, refusal.code, now
        session.flush()
        return row
    use_log.append(session=session, records=[  # 5.
        _use(row, credential, licence=_licence_of(credential, session=session, registry_id=registry_id))
        for credential in verified.values()])
    row.status, row.answered_at = RequestStatus.VERIFIED, now
    row.result = {query_id: _result(credential) for query_id, credential in verified.items()}
    session.flush()
    return row


def _presentations(vp_token: str, *, queries: tuple[CredentialQuery, ...]) -> dict[str, str]:
    """SPEC: OpenID4VP 1.0 §8.1 — `{credential query id: [presentation, ...]}`; `multiple` is not
    asked for, so exactly one each."""
    if len(vp_token) > MAX_VP_TOKEN_CHARS:
        raise ResponseRefused("too_large", "vp_token is too large")
    try:
        value = json.loads(vp_token)
    except ValueError:
        raise ResponseRefused("invalid_vp_token", "vp_token is not JSON") from None
    if not isinstance(value, dict) or set(value) != {q.id for q in queries}:
        raise ResponseRefused("invalid_vp_token", "vp_token must answer each credential query id, and only those")
    result = {}
    for query_id, answers in value.items():
        if not isinstance(answers, list) or len(answers) != 1 or not isinstance(answers[0], str):
            raise ResponseRefused("invalid_vp_token", f"{query_id}: one presentation (a string) in an array")
        result[query_id] = answers[0]
    return result


def _verify(token: str, *, query: CredentialQuery, row: VpRequest, session: Session, store: TrustStore,
            registry_id: str, now: datetime) -> VerifiedCredential:
    def status_token(uri: str) -> str:
        status_list = own_status_list(session=session, uri=uri, registry_id=registry_id)
        if status_list is None:
            raise LookupError(uri)  # another registry's list: its status is not known here, so refused
        return status_list.token

    try:
        credential = verify_sd_jwt_vc(token, trust_store=store, now=now, fetch_status_list=status_token,
                                      expected_nonce=row.nonce, expected_aud=row.client_id)
    except SdJwtVerificationError as error:
        raise ResponseRefused(error.code, f"credential {query.id}: {error}") from None
    if credential.vct not in query.vct_values:
        raise ResponseRefused("vct_not_requested", f"credential {query.id} is of a type not asked for")
    if set(credential.disclosed) != query.claim_names:  # minimum necessary: no more, and no less
        raise ResponseRefused("disclosure_mismatch", f"credential {query.id} must disclose exactly "
                                                     f"{sorted(query.claim_names)}")
    return credential


def _licence_of(credential: VerifiedCredential, *, session: Session, registry_id: str) -> Licence | None:
    """The licence behind a credential of this registry, found by its status entry (not disclosed
    claims): the holder sees the use even when no identifying claim was disclosed."""
    reference = credential.claims["status"]["status_list"]
    status_list = own_status_list(session=session, uri=reference["uri"], registry_id=registry_id)
    if status_list is None:
        return None
    return session.scalar(select(Licence).where(Licence.status_list_id == status_list.id,
                                                Licence.status_index == reference["idx"]))


def _use(row: VpRequest, credential: VerifiedCredential, *, licence: Licence | None) -> UseRecord:
    identifiers = () if licence is None else (
        str(LicenceIdentifier(licence.type_code, licence.issuer_code, licence.serial, licence.current_version)),)
    return UseRecord(
        kind="credential_presentation", department_code=row.department_code, operator_id=row.client_id,
        basis="holder_presented_credential", subject_code=None if licence is None else licence.holder_code,
        licence_ids=identifiers, fields=tuple(sorted(credential.disclosed)), matter_code=row.matter_code,
        purpose=row.purpose,
    )


def _result(credential: VerifiedCredential) -> dict[str, Any]:
    return {
        "vct": credential.vct,
        "issuer": {"registry_id": credential.issuer.registry_id, "department_code": credential.issuer.department_code,
                   "es_id": credential.issuer.es_id, "kid": credential.issuer.kid},
        "status": credential.status,
        "key_bound_at": None if credential.key_bound_at is None else credential.key_bound_at.isoformat(),
        "claims": credential.disclosed,
    }
