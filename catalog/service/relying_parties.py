"""Relying parties: organisations outside the exchange (hotels, banks, telecom shops) that ask
holders' wallets for licence credentials (OpenID4VP; the verifier is registry/oid4vp).

A relying party is an API client holding the `presentation:verify` scope; the client's
department is the organisation the log names for each use. The registration states its
purpose, shown to the holder, and the claims it may ask for per licence type: a request for
more is refused before any wallet sees it (minimum necessary).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import InvalidCatalog, NotFound
from catalog.models import RelyingParty
from catalog.schemas import RelyingPartyIn, RelyingPartyOut
from catalog.service import licence_types
from identity import clients

VERIFY_SCOPE = "presentation:verify"


def get(*, session: Session, client_id: str) -> RelyingParty | None:
    return session.scalar(select(RelyingParty).where(RelyingParty.client_id == client_id))


def get_or_raise(*, session: Session, client_id: str) -> RelyingParty:
    party = get(session=session, client_id=client_id)
    if party is None:
        raise NotFound(f"client {client_id} is not a registered relying party")
    return party


def upsert(*, session: Session, entry: RelyingPartyIn) -> RelyingParty:
    """Register or update a relying party; its client must hold the verify scope and each type exist."""
    client = clients.get_or_raise(session=session, client_id=entry.client_id)
    if VERIFY_SCOPE not in client.scopes:
        raise InvalidCatalog(f"client {entry.client_id} does not hold the {VERIFY_SCOPE} scope")
    for type_code in entry.allowed:
        licence_types.get_or_raise(session=session, code=type_code)
    party = get(session=session, client_id=entry.client_id) or RelyingParty(client_id=entry.client_id)
    party.department_code = client.department_code
    party.name, party.purpose, party.allowed = entry.name, entry.purpose, dict(entry.allowed)
    session.add(party)
    session.flush()
    return party


def allowed_claims(party: RelyingParty, *, type_code: str) -> frozenset[str]:
    """The claims the party may ask for in a credential of `type_code` (none: the type is not allowed)."""
    return frozenset(party.allowed.get(type_code, ()))


def to_schema(party: RelyingParty) -> RelyingPartyOut:
    return RelyingPartyOut(client_id=party.client_id, department_code=party.department_code, name=party.name,
                           purpose=party.purpose, allowed=party.allowed)
