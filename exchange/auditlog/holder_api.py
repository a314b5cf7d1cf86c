"""What a holder sees of the log: every use of their own data, each with an
inclusion proof against the signed checkpoint returned alongside."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from exchange.auditlog import proofs, subjects
from identity.deps import HolderDep
from registry.config import RegistryConfig
from storage.base import utcnow
from storage.sessions import SessionDep
from wiring import service

router = APIRouter(prefix="/api/v1/holders/me", tags=["holders"])


@router.get("/use-records")
def my_use_records(session: SessionDep, holder: HolderDep,
                   registry: Annotated[RegistryConfig, service(RegistryConfig)]) -> dict:
    """用证记录: who used the holder's licences or data, when, for which matter
    and on what legal basis — including supervision access and refusals —
    with the proof that the list is all of them up to the checkpoint; uses
    under a covert mandate's embargo are counted but not shown until it ends."""
    return proofs.records_for_subject(session=session, subject_code=holder.holder_code,
                                      tag_key=subjects.tag_key(registry.key_secret), now=utcnow(),
                                      hide_embargoed=True).to_json()
